"""The synthetic population: people and doctors, each a pure function of the seed and an index.

Names come from small lists, surnames are made-up "test" words so nobody mistakes a
generated person for a real one; patronymics follow the person's sex. Everyone is an
adult (18–89 years on the first day of the reporting month), holds a Russian passport
(F011 14: the current one, and for people over 45 the one it replaced), a SNILS with a
valid check number and an ENP with its check digit (:mod:`.checksums`). ENP and SNILS
are unique within a population: their bodies are the index under a bijection.

Person ``i`` is insured by ``smos[i % len(smos)]`` and attached to
``mos[(i // len(smos)) % len(mos)]``, so every СМО and МО get an even share.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from contracts.generator.checksums import format_snils, make_enp, make_snils
from contracts.generator.codes import DOCTYPE_PASSPORT, PROFILES

SURNAMES = (
    "Тестов",
    "Примеров",
    "Образцов",
    "Макетов",
    "Шаблонов",
    "Пробнов",
    "Опытнов",
    "Условнов",
    "Учебнов",
    "Выдумов",
    "Вымыслов",
    "Синтетов",
)
MALE_NAMES = (
    "Иван",
    "Пётр",
    "Сергей",
    "Алексей",
    "Николай",
    "Андрей",
    "Михаил",
    "Дмитрий",
    "Владимир",
    "Юрий",
    "Олег",
    "Виктор",
)
FEMALE_NAMES = (
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Татьяна",
    "Наталья",
    "Ирина",
    "Светлана",
    "Екатерина",
    "Юлия",
    "Галина",
    "Людмила",
)
PATRONYMICS = (
    ("Иванович", "Ивановна"),
    ("Петрович", "Петровна"),
    ("Сергеевич", "Сергеевна"),
    ("Алексеевич", "Алексеевна"),
    ("Николаевич", "Николаевна"),
    ("Андреевич", "Андреевна"),
    ("Михайлович", "Михайловна"),
    ("Дмитриевич", "Дмитриевна"),
    ("Владимирович", "Владимировна"),
    ("Юрьевич", "Юрьевна"),
    ("Олегович", "Олеговна"),
    ("Викторович", "Викторовна"),
)
MALE, FEMALE = 1, 2
DOCORG = "Тестовый отдел по вопросам миграции № {}"
PASSPORT_REGION = "63"  # OKATO of region 64 opens the passport series
_ENP_STEP = 3_141_592_653_589  # odd, not a multiple of 5: a bijection modulo 10**13
_SNILS_STEP = 387_420_489  # 3**18, coprime with 8 * 10**8: a bijection on that range
_PATIENT_SNILS = (100_000_000, 800_000_000)  # bodies 100-000-000 … 899-999-999
_DOCTOR_SNILS = 900_000_000  # doctors' bodies: 900-000-000 and up
DOCTORS_PER_PROFILE = 3


def mix(*parts: object) -> int:
    """A stable 64-bit seed from parts (``hash()`` is salted per process, this is not)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def seeded(seed: int) -> random.Random:
    """The generator's random stream: reproducible on purpose, never used for secrets."""
    return random.Random(seed)  # noqa: S311  (synthetic data must be reproducible from a seed)


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def scramble(value: int) -> int:
    """splitmix64's finaliser: a cheap, well-spread 64-bit hash of an integer."""
    z = (value + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@dataclass(slots=True, frozen=True)
class Patient:
    """What a register record needs of a person: the index (ID_PAC), ENP and sex."""

    index: int
    enp: str
    sex: int


@dataclass(frozen=True)
class Passport:
    """An identity document (F011 :data:`~.codes.DOCTYPE_PASSPORT`)."""

    series: str
    number: str
    issued: date
    issuer: str
    doctype: int = DOCTYPE_PASSPORT


@dataclass(frozen=True)
class Person:
    """One synthetic insured person."""

    index: int
    fam: str
    im: str
    ot: str
    sex: int
    birth: date
    enp: str
    snils: str
    passport: Passport
    old_passport: Passport | None
    smo: str
    mo: str
    insured_since: date
    attached_since: date

    @property
    def snils_formatted(self) -> str:
        """``XXX-XXX-XXX YY``."""
        return format_snils(self.snils)


@dataclass(frozen=True)
class Doctor:
    """A doctor of an МО: SNILS, V021 speciality and the formatted SNILS (IDDOKT, CODE_MD)."""

    snils: str
    prvs: int
    iddokt: str


class Population:
    """``size`` people of a region, each computed on demand from the seed and an index."""

    def __init__(
        self,
        *,
        seed: int,
        region: str,
        size: int,
        smos: list[str],
        mos: list[str],
        period_start: date,
    ) -> None:
        self.seed, self.region, self.size = seed, region, size
        self.smos, self.mos, self.period_start = smos, mos, period_start
        self._offset = mix(seed, "population")
        self.person = lru_cache(maxsize=4096)(self._make)

    def insured_by(self, smo: str) -> range:
        """Indexes of the people insured by ``smo``."""
        return range(self.smos.index(smo), self.size, len(self.smos))

    def attached_to(self, mo: str) -> list[int]:
        """Indexes of the people attached to ``mo``."""
        return [i for i in range(self.size) if self.mo_of(i) == mo]

    def smo_of(self, index: int) -> str:
        """The СМО insuring person ``index``."""
        return self.smos[index % len(self.smos)]

    def mo_of(self, index: int) -> str:
        """The МО person ``index`` is attached to."""
        return self.mos[(index // len(self.smos)) % len(self.mos)]

    def patient(self, index: int) -> Patient:
        """Index, ENP and sex of person ``index`` — much cheaper than :meth:`person`."""
        return Patient(index, self.enp_of(index), self.sex_of(index))

    def enp_of(self, index: int) -> str:
        """The ENP of person ``index``."""
        return make_enp(self.region, index * _ENP_STEP + self._offset)

    def sex_of(self, index: int) -> int:
        """The sex of person ``index`` (54 % women)."""
        return FEMALE if scramble(self._offset ^ index) % 100 < 54 else MALE

    def _make(self, index: int) -> Person:
        rng = seeded(scramble(self._offset + 7 * index))
        sex = self.sex_of(index)
        start = self.period_start
        age = rng.randint(18, 89)
        birth = date(start.year - age - 1, 1, 1) + timedelta(days=rng.randrange(365))
        suffix = "а" if sex == FEMALE else ""
        names = FEMALE_NAMES if sex == FEMALE else MALE_NAMES
        passport = _passport(rng, birth, 45 if age >= 46 else 20)
        old = _passport(rng, birth, 20) if age >= 46 else None
        return Person(
            index=index,
            fam=rng.choice(SURNAMES) + suffix,
            im=rng.choice(names),
            ot=rng.choice(PATRONYMICS)[sex - 1],
            sex=sex,
            birth=birth,
            enp=self.enp_of(index),
            snils=make_snils(
                _PATIENT_SNILS[0] + (index * _SNILS_STEP + self._offset) % _PATIENT_SNILS[1]
            ),
            passport=passport,
            old_passport=old,
            smo=self.smo_of(index),
            mo=self.mo_of(index),
            insured_since=_past_date(rng, add_years(birth, 18), start),
            attached_since=_past_date(rng, add_years(birth, 18), start - timedelta(days=31)),
        )


def _passport(rng: random.Random, birth: date, age: int) -> Passport:
    issued = add_years(birth, age) + timedelta(days=rng.randrange(10, 60))
    return Passport(
        series=f"{PASSPORT_REGION} {issued.year % 100:02d}",
        number=f"{rng.randrange(1_000_000):06d}",
        issued=issued,
        issuer=DOCORG.format(rng.randint(1, 9)),
    )


def _past_date(rng: random.Random, earliest: date, before: date) -> date:
    """A day in [max(earliest, 2012-01-01), before)."""
    low = max(earliest, date(2012, 1, 1))
    span = max((before - low).days, 1)
    return low + timedelta(days=rng.randrange(span))


@lru_cache(maxsize=1024)
def doctors(mo: str, profil: int) -> tuple[Doctor, ...]:
    """The МО's doctors of one care profile (SNILS unique per МО and profile)."""
    prvs = PROFILES[profil].prvs
    base = _DOCTOR_SNILS + (int(mo) % 100_000) * 1000 + (profil % 1000) * DOCTORS_PER_PROFILE
    snils = [make_snils(base + k) for k in range(DOCTORS_PER_PROFILE)]
    return tuple(Doctor(number, prvs, format_snils(number)) for number in snils)
