"""Record-level defects planted in registers, each with the answer the hub owes.

Each kind changes one record so that exactly one check of exchange.md §5–§6 fails and
nothing else does: SCHET/SUMMAV is summed over the SUMV actually written (so a wrong
SUMV is 002K.00.0370 and never also 002K.64.0371), a bad SNILS goes to a PERS of its
own (its ID_PAC = the person's + ``-<N_ZAP>``) so no other record shares the defect, and
the file's structure stays valid against its XSD — with one exception: the published
XSDs declare IDCASE unique (``xs:unique``), so a strict published-schema check rejects a
file with ``idcase_repeat``; the hub's own schemas leave keys to the rules (905).

=================  ==============  =========  ===========================================
kind               OSHIB           types      change
=================  ==============  =========  ===========================================
idcase_repeat      905             all        IDCASE of the previous record
usl_ok_unknown     904 (001F.00.   H C T      USL_OK 9 (rules keyed on USL_OK, 006F.00.
                   0160)                      1200/1280, have nothing to check)
profil_unknown     904 (001F.00.   H C T      first SL's PROFIL 999
                   0160)
vidpom_mismatch    006F.00.1200    H C T      a V008 VIDPOM not allowed with the USL_OK
sumv_mismatch      002K.00.0370    all        SUMV = Σ SUM_M + 100.00
ds1_eq_ds2         006F.00.0430    H C T      first SL's DS2 = DS1
date_order         002K.00.0330    all        first SL's DATE_2 = DATE_1 − 1 day
snils_bad          004F.00.1570    all        the record's PERS has a wrong check number
                                              (reported on the L-file: n_zap None, key
                                              ID_PAC; the hub refuses the ZAP with it)
npr_missing        002K.00.0290    H C T      planned hospital care without NPR_MO/DATE
onk_sl_missing     006F.00.0900    C          ONK_SL dropped from a confirmed malignancy
naz_missing        003K.00.0040    D*         NAZ dropped after health group IIIа/IIIб
=================  ==============  =========  ===========================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from contracts.generator.cases import Case
from contracts.generator.codes import (
    D_TYPES_GENERATED,
    RSLT_D_NEEDS_NAZ,
    UNKNOWN_PROFIL,
    UNKNOWN_USL_OK,
    VIDPOM_NOT_ALLOWED,
)
from contracts.generator.model import Defect
from contracts.generator.spec import REGISTER_TYPES, RegisterSpec
from contracts.records import money

SUMV_EXCESS = 10_000  # kopecks added to SUMV
DIRECTORY_RULE = "001F.00.0160"

Applies = Callable[[Case, Case | None], bool]
Plant = Callable[[Case, Case | None], str]


@dataclass(frozen=True)
class DefectKind:
    """One kind of planted defect (see the module table)."""

    name: str
    expected: str
    types: frozenset[str]
    applies: Applies
    plant: Plant
    rule: str | None = None


def _always(case: Case, prev: Case | None) -> bool:
    return True


def _repeat_idcase(case: Case, prev: Case | None) -> str:
    if prev is None:  # not applicable to the first record (see ``applies``)
        return ""
    case.idcase = prev.idcase
    return f"IDCASE повторяет IDCASE записи N_ZAP={prev.n_zap}"


def _unknown_usl_ok(case: Case, prev: Case | None) -> str:
    case.usl_ok = UNKNOWN_USL_OK
    return f"USL_OK={UNKNOWN_USL_OK} нет в V006"


def _unknown_profil(case: Case, prev: Case | None) -> str:
    case.sl[0].profil = UNKNOWN_PROFIL
    return f"SL_ID={case.sl[0].sl_id}: PROFIL={UNKNOWN_PROFIL} нет в V002"


def _vidpom(case: Case, prev: Case | None) -> str:
    case.vidpom = VIDPOM_NOT_ALLOWED[case.usl_ok or 0]
    return f"VIDPOM={case.vidpom} недопустим при USL_OK={case.usl_ok}"


def _sumv(case: Case, prev: Case | None) -> str:
    case.sumv += SUMV_EXCESS
    return f"SUMV больше Σ SUM_M на {money(SUMV_EXCESS)}"


def _ds2(case: Case, prev: Case | None) -> str:
    sl = case.sl[0]
    sl.ds2 = [sl.ds1]
    return f"SL_ID={sl.sl_id}: DS2 совпадает с DS1"


def _dates(case: Case, prev: Case | None) -> str:
    sl = case.sl[0]
    sl.date_2 = sl.date_1 - timedelta(days=1)
    return f"SL_ID={sl.sl_id}: DATE_1 > DATE_2"


def _snils(case: Case, prev: Case | None) -> str:
    case.spoiled_snils = True
    case.id_pac = f"{case.id_pac}-{case.n_zap}"
    return (
        f"PERS ID_PAC={case.id_pac}: неверное контрольное число СНИЛС; отказ ZAP N_ZAP={case.n_zap}"
    )


def _npr(case: Case, prev: Case | None) -> str:
    case.npr_mo = case.npr_date = None
    return "плановая госпитализация без NPR_MO/NPR_DATE"


def _onk(case: Case, prev: Case | None) -> str:
    for sl in case.sl:
        sl.onk = None
    return f"DS1={case.sl[0].ds1}, DS_ONK=0 без ONK_SL"


def _naz(case: Case, prev: Case | None) -> str:
    for sl in case.sl:
        sl.naz = []
    return f"RSLT_D={case.rslt_d} без NAZ"


ALL = frozenset(REGISTER_TYPES)
HCT = frozenset({"H", "C", "T"})
KINDS: tuple[DefectKind, ...] = (
    DefectKind("idcase_repeat", "905", ALL, lambda c, p: p is not None, _repeat_idcase),
    DefectKind("usl_ok_unknown", "904", HCT, _always, _unknown_usl_ok, rule=DIRECTORY_RULE),
    DefectKind("profil_unknown", "904", HCT, _always, _unknown_profil, rule=DIRECTORY_RULE),
    DefectKind(
        "vidpom_mismatch", "006F.00.1200", HCT, lambda c, p: c.usl_ok in VIDPOM_NOT_ALLOWED, _vidpom
    ),
    DefectKind("sumv_mismatch", "002K.00.0370", ALL, _always, _sumv),
    DefectKind("ds1_eq_ds2", "006F.00.0430", HCT, _always, _ds2),
    DefectKind("date_order", "002K.00.0330", ALL, _always, _dates),
    DefectKind("snils_bad", "004F.00.1570", ALL, _always, _snils),
    DefectKind("npr_missing", "002K.00.0290", HCT, lambda c, p: c.planned_inpatient, _npr),
    DefectKind(
        "onk_sl_missing",
        "006F.00.0900",
        frozenset({"C"}),
        lambda c, p: c.sl[0].onk is not None and c.sl[0].ds_onk == 0,
        _onk,
    ),
    DefectKind(
        "naz_missing",
        "003K.00.0040",
        frozenset(D_TYPES_GENERATED),
        lambda c, p: c.rslt_d in RSLT_D_NEEDS_NAZ,
        _naz,
    ),
)
BY_NAME = {kind.name: kind for kind in KINDS}


def plant(case: Case, prev: Case | None, spec: RegisterSpec, pick: float) -> Defect | None:
    """Plant one defect chosen by ``pick`` (0–1) among those that fit; None when none fits."""
    fitting = [k for k in KINDS if spec.type in k.types and k.applies(case, prev)]
    if not fitting:
        return None
    kind = fitting[min(int(pick * len(fitting)), len(fitting) - 1)]
    detail = kind.plant(case, prev)
    personal = kind.name == "snils_bad"
    case.defect = Defect(
        file_name=spec.personal_base if personal else spec.base,
        n_zap=None if personal else case.n_zap,
        key=case.id_pac if personal else str(case.idcase),
        expected=kind.expected,
        detail=detail,
        kind=kind.name,
        rule=kind.rule,
    )
    return case.defect
