"""The stateful rules as pure decisions over a snapshot of the registry (contracts.mek)."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.mek import (
    AcceptedCase,
    Earlier,
    EarlierCase,
    Period,
    PeriodBook,
    insurance_problem,
    person_key,
    repeat_problem,
    sanction_problem,
)

ENP = "6400000000000001"
NOV = (2025, 11)


def zap(idcase: str = "7", pr_nov: str = "0", *, z2: date = date(2025, 11, 20)) -> dict:
    return {
        "N_ZAP": "3",
        "PR_NOV": pr_nov,
        "PACIENT": {"ID_PAC": "P1", "VPOLIS": "3", "ENP": ENP},
        "Z_SL": {
            "IDCASE": idcase,
            "DATE_Z_1": date(2025, 11, 10),
            "DATE_Z_2": z2,
            "SL": [{"SL_ID": "1", "PROFIL": "97"}],
        },
    }


def earlier_with(*cases: EarlierCase) -> Earlier:
    earlier = Earlier()
    for case in cases:
        earlier.add(case)
    return earlier


def case(idcase: str, status: str, *, period=NOV, replaced=False, person=None) -> EarlierCase:
    person = person or (ENP, date(2025, 11, 10), date(2025, 11, 20), "97")
    return EarlierCase(11, 5, idcase, period, status, replaced, person)


# ------------------------------------------------------------ 005K.64.0001


def test_a_person_insured_by_the_payer_on_date_z_2_passes() -> None:
    periods = [Period("64004", date(2020, 1, 1))]
    assert insurance_problem(zap(), ENP, "64004", periods) is None


def test_a_person_insured_by_another_smo_is_refused_with_that_variant() -> None:
    periods = [
        Period("64001", date(2020, 1, 1)),
        Period("64004", date(2015, 1, 1), date(2019, 12, 31)),
    ]
    found = insurance_problem(zap(), ENP, "64004", periods)
    assert found is not None and (found.rule, found.variant) == ("005K.64.0001", "other_smo")
    assert found.problem.zn_pol == "64001" and found.problem.bas_el == "PACIENT"
    assert ENP not in found.problem.comment


@pytest.mark.parametrize(
    "periods",
    [
        [],
        [Period("64004", date(2020, 1, 1), date(2025, 11, 19))],  # ended the day before
        [Period("64004", date(2025, 11, 21))],  # began the day after
    ],
    ids=["never", "ended-before", "began-after"],
)
def test_a_person_not_insured_on_date_z_2_is_refused(periods) -> None:
    found = insurance_problem(zap(), ENP, "64004", periods)
    assert found is not None and (found.rule, found.variant) == ("005K.64.0001", "")
    assert found.problem.n_zap == "3" and found.problem.idcase == "7"


def test_the_last_day_of_the_period_is_covered() -> None:
    periods = [Period("64004", date(2020, 1, 1), date(2025, 11, 20))]
    assert insurance_problem(zap(), ENP, "64004", periods) is None


def test_a_person_without_enp_cannot_be_identified() -> None:
    pacient = {"ID_PAC": "P1", "VPOLIS": "1", "NPOLIS": "123"}
    assert person_key(pacient) is None
    found = insurance_problem(zap(), None, "64004", [])
    assert found is not None and found.variant == "unidentified"


def test_npolis_of_a_unified_policy_stands_for_enp() -> None:
    assert person_key({"VPOLIS": "3", "NPOLIS": "6400000000000009"}) == "6400000000000009"
    assert person_key({"VPOLIS": "3", "ENP": ENP, "NPOLIS": "6400000000000009"}) == ENP


# ------------------------------------------------------------ 005K.64.0002 / 0003


def test_a_case_accepted_in_an_earlier_register_of_the_period_is_refused() -> None:
    found, replaced = repeat_problem(zap("7"), ENP, earlier_with(case("7", "accepted")), NOV)
    assert found is not None and found.rule == "005K.64.0002" and replaced is None
    assert "пакет № 5" in found.problem.comment


def test_the_same_idcase_in_another_period_is_another_case() -> None:
    other = case("7", "accepted", period=(2025, 10), person=(ENP, date(2025, 10, 1), None, "97"))
    assert repeat_problem(zap("7"), ENP, earlier_with(other), NOV) == (None, None)


def test_the_same_person_dates_and_profile_under_a_new_idcase_is_refused() -> None:
    found, _ = repeat_problem(zap("8"), ENP, earlier_with(case("7", "accepted")), NOV)
    assert found is not None and (found.rule, found.variant) == ("005K.64.0002", "same_person")


def test_a_refused_earlier_case_does_not_block_a_new_one() -> None:
    assert repeat_problem(zap("7"), ENP, earlier_with(case("7", "refused")), NOV) == (None, None)


def test_a_resubmission_replaces_the_refused_record() -> None:
    refused = case("7", "refused", period=(2025, 10))
    found, replaced = repeat_problem(zap("7", "1"), ENP, earlier_with(refused), NOV)
    assert found is None and replaced == refused


@pytest.mark.parametrize(
    ("earlier", "variant"),
    [
        ([], ""),
        ([case("7", "refused", replaced=True)], ""),  # already replaced once
        ([case("7", "accepted")], "accepted"),
    ],
    ids=["nothing-refused", "replaced-already", "accepted"],
)
def test_a_resubmission_without_a_refused_record_is_refused(earlier, variant) -> None:
    found, replaced = repeat_problem(zap("7", "1"), ENP, earlier_with(*earlier), NOV)
    assert found is not None and (found.rule, found.variant) == ("005K.64.0003", variant)
    assert replaced is None


# ------------------------------------------------------------ attach 007F.64.0001


def rec(dbeg: date, dend: date | None = None) -> dict:
    return {"N_ZAP": "1", "ENP": ENP, "DATE_ATTACH_B": dbeg, "DATE_ATTACH_E": dend}


def test_an_attachment_restated_as_it_was_changes_nothing() -> None:
    book = PeriodBook()
    book.load(ENP, Period("640001", date(2020, 1, 1)), 1)
    assert book.attach(rec(date(2020, 1, 1)), "640001") is None
    assert list(book.changed()) == []


def test_an_overlapping_attachment_at_the_same_mo_is_refused() -> None:
    book = PeriodBook()
    book.load(ENP, Period("640001", date(2020, 1, 1)), 1)
    found = book.attach(rec(date(2023, 5, 1)), "640001")
    assert found is not None and found.rule == "007F.64.0001"
    assert "2020-01-01" in found.problem.comment and list(book.changed()) == []


def test_a_newer_attachment_elsewhere_closes_the_old_one_the_day_before() -> None:
    book = PeriodBook()
    book.load(ENP, Period("640001", date(2020, 1, 1)), 1)
    assert book.attach(rec(date(2025, 3, 1)), "640002", method="2") is None
    changed = {(e.period.holder, e.period.dbeg, e.period.dend, e.id) for _, e in book.changed()}
    assert changed == {
        ("640001", date(2020, 1, 1), date(2025, 2, 28), 1),
        ("640002", date(2025, 3, 1), None, None),
    }


def test_a_second_record_of_the_same_file_sees_the_first() -> None:
    book = PeriodBook()
    assert book.attach(rec(date(2020, 1, 1)), "640001") is None
    assert book.attach(rec(date(2021, 1, 1)), "640001") is not None


# ------------------------------------------------------------ erz 007F.64.0004


def pers(op: str, dbeg: date, dend: date | None = None) -> dict:
    return {"N_ZAP": "1", "OP": op, "ENP": ENP, "DBEG": dbeg, "DEND": dend}


def test_new_insurance_elsewhere_ends_the_previous_one() -> None:
    book = PeriodBook()
    book.load(ENP, Period("64001", date(2018, 1, 1)), 9)
    assert book.insure(pers("P", date(2025, 6, 1)), "64004", date(2025, 6, 30)) is None
    periods = {(e.period.holder, e.period.dend) for _, e in book.changed()}
    assert periods == {("64001", date(2025, 5, 31)), ("64004", None)}


def test_end_of_insurance_closes_the_open_period_on_dend() -> None:
    book = PeriodBook()
    book.load(ENP, Period("64004", date(2018, 1, 1)), 9)
    assert book.insure(pers("C", date(2018, 1, 1), date(2025, 11, 30)), "64004", None) is None
    [(_, entry)] = list(book.changed())
    assert entry.period.dend == date(2025, 11, 30) and entry.closed_by_this


@pytest.mark.parametrize("op", ["I", "C"])
def test_a_change_for_a_person_the_smo_does_not_insure_is_refused(op: str) -> None:
    book = PeriodBook()
    book.load(ENP, Period("64001", date(2018, 1, 1)), 9)
    found = book.insure(pers(op, date(2018, 1, 1)), "64004", date(2025, 11, 30))
    assert found is not None and found.rule == "007F.64.0004"


def test_an_end_before_the_beginning_is_refused() -> None:
    found = PeriodBook().insure(pers("P", date(2025, 1, 2), date(2025, 1, 1)), "64004", None)
    assert found is not None and found.variant == "dates"


# ------------------------------------------------------------ expert 007F.64.0003


def expert_zap() -> dict:
    return {"N_ZAP": "1", "CODE_MO": "640001", "YEAR": "2025", "MONTH": "11", "NSCHET": "H-1",
            "IDCASE": "7"}  # fmt: skip


def accepted(**kw) -> AcceptedCase:
    values = dict(case_id=1, invoice_id=1, payer="64004", nschet="H-1", year=2025, month=11,
                  sump_kop=100_000, sanctioned_kop=0)  # fmt: skip
    values.update(kw)
    return AcceptedCase(**values)


def test_a_sanction_within_the_accepted_sum_passes() -> None:
    assert sanction_problem(expert_zap(), "64004", accepted(sanctioned_kop=40_000), 60_000) is None


@pytest.mark.parametrize(
    ("case_", "variant"),
    [
        (None, ""),
        (accepted(nschet="H-2"), ""),
        (accepted(payer="64001"), "other_payer"),
        (accepted(sanctioned_kop=40_001), "exceeds"),
    ],
    ids=["unknown", "other-invoice", "other-payer", "exceeds"],
)
def test_a_sanction_that_does_not_fit_is_refused(case_, variant) -> None:
    found = sanction_problem(expert_zap(), "64004", case_, 60_000)
    assert found is not None and (found.rule, found.variant) == ("007F.64.0003", variant)
    assert found.problem.idcase == "7"
