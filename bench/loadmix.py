"""The package mix of ``make bench-load``: a pool of distinct generated packages of one
region (200 МО, 4 СМО) and the order to publish them in, cached under ``bench/.data``.

- kinds by :data:`SHARES`; registers (H, C, T, DP, DV, DO) of :data:`SIZES` cases —
  most of 10–50, a tail up to 500; hosp files (I01 … I07) drawn from the month's H
  registers, tmk and attach of an МО, appeal and erz of an СМО;
- :data:`DEFECTIVE` of the packages are written with planted defects (the generator's
  own, so the protocol names them); :data:`DUPLICATES` of the schedule re-publish an
  earlier package's bytes at least :data:`REPEAT_GAP` places later;
- every name is distinct: periods run over :data:`MONTHS` (one population, insured since
  before the first of them), registers also over their number 1–9;
- ``insure`` are the erz files (everyone, one per СМО) to publish before the clock
  starts, so registers meet their people insured (МЭК 005K.64.0001).

Everything is a function of :data:`SEED` and the size: the same call gives the same
bytes, and the pool is written once per parameters (the folder name is their digest).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path

from bench.common import ROOT
from contracts.generator import GeneratedPackage, GeneratorConfig
from contracts.generator.context import Context
from contracts.generator.events import write_appeal, write_tmk
from contracts.generator.hosp import write_hosp
from contracts.generator.insurance import write_attach, write_erz
from contracts.generator.people import Population
from contracts.generator.registers import write_spec
from contracts.generator.spec import RegisterSpec

REGION = "64"
MOS = [f"{REGION}{n:04d}" for n in range(1, 201)]
SMOS = [f"{REGION}{n:03d}" for n in range(1, 5)]
SHARES = {"registry": 0.45, "hosp": 0.26, "tmk": 0.12, "attach": 0.08, "appeal": 0.05, "erz": 0.04}
SIZES = ((0.85, 10, 50), (0.12, 51, 200), (0.03, 201, 500))
"""Register sizes: (share, fewest cases, most cases)."""
REGISTER_TYPES = {"H": 0.6, "DP": 0.15, "DO": 0.1, "C": 0.05, "T": 0.05, "DV": 0.05}
DEFECTIVE = 0.05
DUPLICATES = 0.02
REPEAT_GAP = 200
PEOPLE = 8000
ERZ_PEOPLE = 400  # the erz files of the mix re-insure the first of them (100 per СМО)
SEED = 1
FIRST = date(2021, 1, 1)  # the population's period: everyone insured before it
MONTHS = [(2021 + k // 12, k % 12 + 1) for k in range(70)]  # 2021-01 … 2026-10
MIX_VERSION = 2  # bump when the mix's code changes, so the cache is rebuilt
DATA = ROOT / "bench" / ".data"


@dataclass(frozen=True)
class Item:
    """One package of the pool: its file (relative to the pool), sender, kind, size."""

    path: str
    sender: str  # participant token, e.g. mo.640001
    kind: str
    records: int
    defects: int
    small: bool  # not a register of more than 50 cases


@dataclass
class Mix:
    """The pool, the order to publish it in (pool indexes; repeats appear twice) and the
    erz files that insure everyone before the clock starts."""

    folder: Path
    pool: list[Item]
    schedule: list[int]
    insure: list[Item] = field(default_factory=list)

    def data(self, item: Item) -> bytes:
        return (self.folder / item.path).read_bytes()

    def summary(self) -> dict[str, object]:
        kinds: dict[str, int] = {}
        for item in self.pool:
            kinds[item.kind] = kinds.get(item.kind, 0) + 1
        sizes = sorted(i.records for i in self.pool if i.kind == "registry")
        return {
            "packages": len(self.schedule),
            "distinct": len(self.pool),
            "repeats": len(self.schedule) - len(self.pool),
            "with_defects": sum(1 for i in self.pool if i.defects),
            "kinds": kinds,
            "small": sum(1 for i in self.pool if i.small),
            "register_cases": {
                "min": sizes[0] if sizes else 0,
                "median": sizes[len(sizes) // 2] if sizes else 0,
                "max": sizes[-1] if sizes else 0,
                "total": sum(sizes),
            },
            "bytes": sum((self.folder / i.path).stat().st_size for i in self.pool),
        }


def load_mix(packages: int, *, small_only: bool = False) -> Mix:
    """The mix of ``packages`` publishes (generated on first use, then read from disk)."""
    params = {"packages": packages, "small_only": small_only, "seed": SEED, "v": MIX_VERSION}
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    folder = DATA / f"load-{packages}-{key}"
    index = folder / "mix.json"
    if not index.exists():
        if folder.exists():
            shutil.rmtree(folder)  # an interrupted write
        mix = _generate(folder, packages, small_only)
        payload = {
            "params": params,
            "pool": [asdict(i) for i in mix.pool],
            "insure": [asdict(i) for i in mix.insure],
            "schedule": mix.schedule,
        }
        index.write_text(json.dumps(payload))
    data = json.loads(index.read_text())
    return Mix(
        folder,
        [Item(**i) for i in data["pool"]],
        list(data["schedule"]),
        [Item(**i) for i in data["insure"]],
    )


def write_participants(path: Path) -> Path:
    """The participant registry of the mix (the shipped seed has only 30 МО)."""
    rows = [f"mo,{mo},Тестовая медицинская организация {mo},1" for mo in MOS]
    rows += [f"smo,{smo},Тестовая СМО {smo},1" for smo in SMOS]
    path.write_text("role,code,name,active\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------ generation


class _Writer:
    """Writes the pool's packages, one kind at a time, into ``folder``."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder, self.rng = folder, rng
        self.population = Population(seed=SEED, region=REGION, size=PEOPLE, smos=SMOS,
                                     mos=MOS, period_start=FIRST)  # fmt: skip
        self.few = Population(seed=SEED, region=REGION, size=ERZ_PEOPLE, smos=SMOS,
                              mos=MOS, period_start=FIRST)  # fmt: skip
        self.config = GeneratorConfig(region=REGION, mo=len(MOS), smo=len(SMOS), seed=SEED)
        self.h_registers: dict[tuple[int, int], list[RegisterSpec]] = {}

    def context(
        self, month: tuple[int, int], *, defects: bool = False, few: bool = False
    ) -> Context:
        year, mon = month
        config = replace(self.config, year=year, month=mon, defects=0.3 if defects else 0.0)
        out = self.folder / ("d" if defects else "c") / f"{year}{mon:02d}"
        out.mkdir(parents=True, exist_ok=True)
        return Context(config, out, self.few if few else self.population)

    def item(self, package: GeneratedPackage, *, small: bool = True) -> Item:
        return Item(str(package.path.relative_to(self.folder)), package.sender, package.kind,
                    package.records, len(package.defects), small)  # fmt: skip

    def defective(self) -> bool:
        return self.rng.random() < DEFECTIVE

    def registers(self, count: int, small_only: bool) -> list[Item]:
        taken: set[tuple[object, ...]] = set()
        items = []
        types, weights = list(REGISTER_TYPES), list(REGISTER_TYPES.values())
        while len(items) < count:
            month = self.rng.choice(MONTHS)
            mo, smo = self.rng.choice(MOS), self.rng.choice(SMOS)
            type_ = self.rng.choices(types, weights)[0]
            number = self.rng.randint(1, 9)
            if (month, mo, smo, type_, number) in taken:
                continue
            taken.add((month, mo, smo, type_, number))
            cases = self._cases(small_only)
            defects = min(1.0, 3 / cases) if self.defective() else 0.0
            spec = RegisterSpec(type=type_, mo=mo, smo=smo, cases=cases, number=number,
                                seed=SEED, year=month[0], month=month[1], referrers=tuple(MOS),
                                defects=defects)  # fmt: skip
            if type_ == "H":
                self.h_registers.setdefault(month, []).append(spec)
            out = self.folder / "r" / f"{month[0]}{month[1]:02d}"
            items.append(self.item(write_spec(out, spec, self.population), small=cases <= 50))
        return items

    def _cases(self, small_only: bool) -> int:
        bands = SIZES[:1] if small_only else SIZES
        _share, fewest, most = self.rng.choices(bands, [band[0] for band in bands])[0]
        return self.rng.randint(fewest, most)

    def hosp(self, count: int) -> list[Item]:
        items: list[Item] = []
        for month in MONTHS:
            if len(items) >= count:
                break
            clean, spoiled = self.context(month), self.context(month, defects=True)
            specs = self.h_registers.get(month, [])
            clean.registers.extend(specs)
            spoiled.registers.extend(specs)
            pairs = list(zip(write_hosp(clean), write_hosp(spoiled), strict=True))
            can = sum(1 for _c, d in pairs if d.defects) or 1
            for good, bad in pairs:  # I01 first: I04/I06 refer to what came before
                use = (
                    bad
                    if bad.defects and self.rng.random() < DEFECTIVE * len(pairs) / can
                    else good
                )
                items.append(self.item(use))
        return items[:count]

    def per_participant(self, kind: str, count: int) -> list[Item]:
        parties = SMOS if kind in ("appeal", "erz") else MOS
        slots = [(m, p) for m in MONTHS for p in parties]
        self.rng.shuffle(slots)
        items = []
        for month, party in slots[:count]:
            ctx = self.context(month, defects=self.defective(), few=kind == "erz")
            if kind == "tmk":
                package = write_tmk(ctx, party)
            elif kind == "appeal":
                package = write_appeal(ctx, party)
            elif kind == "attach":
                package = write_attach(ctx, party)
            else:
                package = write_erz(ctx, party)[0]  # OP=P only: nobody leaves
            items.append(self.item(package))
        return items

    def insure(self) -> list[Item]:
        ctx = self.context((FIRST.year - 1, 12))
        return [self.item(write_erz(ctx, smo)[0], small=False) for smo in SMOS]


def _generate(folder: Path, packages: int, small_only: bool) -> Mix:
    rng = random.Random(SEED)
    writer = _Writer(folder, rng)
    distinct = packages - round(packages * DUPLICATES)
    wanted = {kind: round(distinct * share) for kind, share in SHARES.items()}
    limits = {"appeal": len(MONTHS) * len(SMOS), "erz": len(MONTHS) * len(SMOS)}
    for kind, most in limits.items():  # past what distinct names allow: more registers
        wanted["registry"] += max(0, wanted[kind] - most)
        wanted[kind] = min(wanted[kind], most)
    wanted["registry"] += distinct - sum(wanted.values())
    by_kind = {"registry": writer.registers(wanted["registry"], small_only)}
    by_kind["hosp"] = writer.hosp(wanted["hosp"])
    wanted["registry"] += wanted["hosp"] - len(by_kind["hosp"])
    for kind in ("tmk", "attach", "appeal", "erz"):
        by_kind[kind] = writer.per_participant(kind, wanted[kind])
    labels = [kind for kind, items in by_kind.items() for _ in items]
    rng.shuffle(labels)  # interleave the kinds, each in its own order
    queues = {kind: iter(items) for kind, items in by_kind.items()}
    pool = [next(queues[kind]) for kind in labels]
    return Mix(folder, pool, _schedule(rng, len(pool), packages), writer.insure())


def _schedule(rng: random.Random, distinct: int, packages: int) -> list[int]:
    """Pool indexes in publishing order, with repeats of earlier ones ``REPEAT_GAP`` on."""
    order = list(range(distinct))
    for _ in range(packages - distinct):
        original = rng.randrange(max(1, len(order) - REPEAT_GAP))
        order.insert(
            rng.randint(min(original + REPEAT_GAP, len(order)), len(order)), order[original]
        )
    return order
