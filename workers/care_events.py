"""Events of the information resource from registers and expert packages
(:mod:`storage.events`, categories 1, 2 and 7).

From each accepted case of a register:

- D-files: ``exam.done`` (the day the exam ended, detail ``<type>:<RSLT_D>``), one
  ``exam.dispensary`` per SL that takes the person under dispensary observation
  (PR_D_N 2), one ``exam.referral`` per NAZ (detail NAZ_R, on NAPR_DATE when given);
- any register: the oncology milestones of each SL — ``onco.suspicion`` (DS_ONK 1, on
  DATE_1), ``onco.consultation`` (each CONS with DT_CONS), ``onco.diagnosis`` (a
  malignant DS1, C00–C97 or D00–D09, without DS_ONK 1, on DATE_1) and
  ``onco.treatment`` (that SL's ONK_SL treats it: DS1_T 0, 1 or 2).

A refused case — by FLK or MEK — is ``mek.refused`` on the day the hub received the
package, with its reason and the sum refused. An expert package's new sanctions are
``expert.mee`` / ``expert.ekmp`` on the day of the act, with their sums.

The person's ENP and the paying СМО come with the case; the consolidation counts them
per region, МО and СМО (:mod:`storage.daily`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts.records import Record, items
from storage.events import EXAMS, EXPERT, ONCOLOGY
from workers.events import day, event_row

MALIGNANT = ("C", "D0")  # C00–C97, D00–D09 (the ЗНО of the C-file)
TREATING = frozenset({"0", "1", "2"})  # N018 DS1_T: primary treatment, relapse, progression
TAKEN_UNDER_OBSERVATION = "2"  # PR_D_N: 1 observed already, 2 taken, 3 not subject
SMO_CODE_LENGTH = 5  # a payer that is not an СМО is the region's ТФОМС (2 digits)


@dataclass(frozen=True)
class Register:
    """What the events of a register's records share."""

    package_id: int
    file_type: str  # H, C, T, DP …
    received: date  # the day the hub received it: the day of its refusals


def case_events(
    register: Register, pos: int, record: Record, case: dict[str, Any]
) -> list[dict[str, Any]]:
    """The events of one register record, given the case row the applier decided."""
    package_id, file_type = register.package_id, register.file_type
    payer = case["payer"]
    about = {
        "enp": case["enp"],
        "mo": case["code_mo"],
        "smo": payer if len(payer) == SMO_CODE_LENGTH else None,
        "ref": case["idcase"],
    }
    if case["status"] != "accepted":
        row = event_row(package_id, pos, "mek.refused", EXPERT, register.received,
                        detail=case["reason"], amount_kop=case["sumv_kop"], **about)  # fmt: skip
        return [row] if row is not None else []
    z_sl = record.get("Z_SL") or {}
    sls: list[Record] = items(z_sl, "SL")
    out: list[dict[str, Any] | None] = []

    def add(kind: str, category: int, when: object, detail: object = None, n: int = 0) -> None:
        out.append(event_row(package_id, pos, kind, category, day(when), detail=detail, n=n,
                             **about))  # fmt: skip

    if file_type.startswith("D"):
        ended = z_sl.get("DATE_Z_2")
        add("exam.done", EXAMS, ended, f"{file_type}:{z_sl.get('RSLT_D') or ''}")
        naz_n = 0
        for k, sl in enumerate(sls, 1):
            if str(sl.get("PR_D_N") or "") == TAKEN_UNDER_OBSERVATION:
                add("exam.dispensary", EXAMS, sl.get("DATE_2") or ended, sl.get("DS1"), k)
            for naz in items(sl, "NAZ"):
                naz_n += 1
                add("exam.referral", EXAMS, naz.get("NAPR_DATE") or ended, naz.get("NAZ_R"), naz_n)
    cons_n = 0
    for k, sl in enumerate(sls, 1):
        ds1 = str(sl.get("DS1") or "")
        suspected = str(sl.get("DS_ONK") or "") == "1"
        if suspected:
            add("onco.suspicion", ONCOLOGY, sl.get("DATE_1"), ds1, k)
        for cons in items(sl, "CONS"):
            cons_n += 1
            add("onco.consultation", ONCOLOGY, cons.get("DT_CONS"), cons.get("PR_CONS"), cons_n)
        if not suspected and ds1.startswith(MALIGNANT):
            add("onco.diagnosis", ONCOLOGY, sl.get("DATE_1"), ds1, k)
            onk = sl.get("ONK_SL")
            if isinstance(onk, dict) and str(onk.get("DS1_T") or "") in TREATING:
                add("onco.treatment", ONCOLOGY, sl.get("DATE_1"), onk.get("DS1_T"), k)
    return [row for row in out if row is not None]


def sanction_event(
    package_id: int, pos: int, zap: Record, sank: Record, *, n: int, smo: str, kind: str, kop: int
) -> dict[str, Any] | None:
    """A new МЭЭ/ЭКМП sanction (``kind`` mee or ekmp) as an event on its act's date."""
    return event_row(package_id, pos, f"expert.{kind}", EXPERT, day(sank.get("DATE_ACT")),
                     mo=zap.get("CODE_MO"), smo=smo, ref=zap.get("IDCASE"),
                     detail=sank.get("S_OSN"), amount_kop=kop, n=n)  # fmt: skip
