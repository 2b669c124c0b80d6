"""One register to generate (:class:`RegisterSpec`) and the published layout it follows.

Layouts (the reference XSD each one validates against, ``../shared/reference/registry-v3``):

======  =======  ======================  ==========================================
type    version  published schema        differences
======  =======  ======================  ==========================================
H       3.2      H-3.2.xsd               PACIENT/ENP; USL/MR_USL_N
H       3.1      H-3.1.xsd               PACIENT/NPOLIS = ENP; USL/PRVS + CODE_MD
C, T    3.2      (none published)        C/T 3.1 with the H 3.1 → 3.2 changes above
C       3.1      C-3.1.xsd               as H 3.1, plus DS_ONK, NAPR, CONS, ONK_SL
T       3.1      T-3.1.xsd               as H 3.1, plus VID_HMP … TAL_P, DS_ONK
D*      3.2      D-3.1-2021-08.xsd       PACIENT/ENP; USL/MR_USL_N; NAZ/NAZ_IDDOKT
D*      3.1      D-3.1.xsd               PACIENT/NPOLIS; USL/PRVS + CODE_MD; NAZ/NAZ_SP
======  =======  ======================  ==========================================

C and T 3.2 follow the project's own decision (``contracts/schemas/README.md``).

Identifiers: IDCASE = ``slot × 10**7 + N_ZAP`` where the slot (type, СМО, number) is
unique among one МО's registers of a period, so IDCASE is unique per CODE_MO and period;
SL_ID and IDSERV extend it. SCHET/CODE = YYMM + slot (8 digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from contracts.filenames import Party, compose_name, parse_name, personal_file_names
from contracts.generator.codes import D_TYPES_GENERATED, DISP
from contracts.generator.model import check_common
from omsx.errors import ConfigError, FileNameError

REGISTER_TYPES = ("H", "C", "T", *D_TYPES_GENERATED)
_TYPE_SLOT = {t: n for n, t in enumerate(REGISTER_TYPES, start=1)}
MAX_CASES = 10**7 - 1


@dataclass(frozen=True)
class Layout:
    """Which edition a register follows (see the module table).

    ``reference`` names the published XSD in ``../shared/reference/registry-v3`` the
    layout validates against; None where nothing is published (C and T 3.2).
    """

    reference: str | None
    enp: bool
    mr_usl: bool
    naz_iddokt: bool = False


def layout_for(type_: str, version: str) -> Layout:
    """The layout of a register type in a format version."""
    modern = version == "3.2"
    if type_ == "H":
        return Layout(f"H-{version}.xsd", modern, modern)
    if type_ in ("C", "T"):
        return Layout(None if modern else f"{type_}-3.1.xsd", modern, modern)
    if modern:
        return Layout("D-3.1-2021-08.xsd", True, True, naz_iddokt=True)
    return Layout("D-3.1.xsd", False, False)


@dataclass(frozen=True)
class RegisterSpec:
    """One register (main file + L-file) of one МО to one СМО for one month."""

    type: str
    mo: str
    smo: str
    cases: int
    version: str = "3.2"
    number: int = 1
    seed: int = 0
    defects: float = 0.0
    year: int = 2025
    month: int = 11
    sl_per_case: int = 2
    usl_per_sl: int = 2
    referrers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_common(self.defects, self.version, self.year, self.month)
        if self.type not in REGISTER_TYPES:
            raise ConfigError(
                f"тип реестра «{self.type}»: генерируются {', '.join(REGISTER_TYPES)}"
            )
        if not 1 <= self.cases <= MAX_CASES:
            raise ConfigError(f"cases={self.cases}: нужно от 1 до {MAX_CASES}")
        if self.sl_per_case < 1 or self.usl_per_sl < 1 or self.number < 1:
            raise ConfigError("sl_per_case, usl_per_sl и number должны быть ≥ 1")
        try:
            Party("mo", self.mo)
            Party("smo", self.smo)
        except FileNameError as exc:
            raise ConfigError(str(exc)) from exc

    @property
    def region(self) -> str:
        """The МО's region."""
        return self.mo[:2]

    @property
    def base(self) -> str:
        """The main file's name without extension."""
        name = compose_name(
            self.type,
            Party("mo", self.mo),
            Party("smo", self.smo),
            year=self.year,
            month=self.month,
            number=self.number,
        )
        return name.base

    @property
    def personal_base(self) -> str:
        """The L-file's name: ``L`` + base[1:] (H, D*), ``L`` + base (C, T) — exchange.md §3."""
        short, long = personal_file_names(parse_name(self.base))
        return long if self.type in ("C", "T") else short

    @property
    def layout(self) -> Layout:
        """The published layout followed."""
        return layout_for(self.type, self.version)

    @property
    def period_start(self) -> date:
        """First day of the reporting month."""
        return date(self.year, self.month, 1)

    @property
    def period_end(self) -> date:
        """Last day of the reporting month: DSCHET and ZGLV/DATA."""
        following = date(self.year + self.month // 12, self.month % 12 + 1, 1)
        return following - timedelta(days=1)

    @property
    def slot(self) -> int:
        """Type, СМО and number: unique among one МО's registers of the period."""
        return _TYPE_SLOT[self.type] * 1000 + int(self.smo[-2:]) * 10 + self.number % 10

    @property
    def idcase_base(self) -> int:
        """IDCASE of N_ZAP n is ``idcase_base + n``."""
        return self.slot * 10**7

    @property
    def code(self) -> int:
        """SCHET/CODE: YYMM + slot."""
        return int(f"{self.year % 100:02d}{self.month:02d}{self.slot:04d}")

    @property
    def nschet(self) -> str:
        """SCHET/NSCHET."""
        return f"{self.type}-{self.smo[-3:]}-{self.number}"

    @property
    def disp(self) -> str | None:
        """SCHET/DISP of D-files (V016)."""
        return DISP.get(self.type)
