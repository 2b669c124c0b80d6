"""FileContext.observe: what the file-scope rules read after the records."""

from __future__ import annotations

from decimal import Decimal


def test_observe_adds_up_sumv_and_collects_id_pac(samples):
    ctx = samples.context("H")  # one sample ZAP observed
    second = samples.record("H")
    second["PACIENT"]["ID_PAC"] = "P2"
    second["Z_SL"]["SUMV"] = Decimal("0.01")
    ctx.observe(second)
    assert ctx.totals == {"SUMV": Decimal("15000.01")}
    assert ctx.seen_id_pac == {"P1", "P2"}


def test_a_sumv_that_did_not_convert_makes_the_total_unknown(samples):
    ctx = samples.context("H")
    broken = samples.record("H")
    broken["Z_SL"]["SUMV"] = "15 000"
    ctx.observe(broken)
    ctx.observe(samples.record("H"))
    assert ctx.totals["SUMV"].is_nan()


def test_observe_ignores_records_without_a_case(samples):
    ctx = samples.context("L")
    ctx.observe(samples.pers())
    assert ctx.totals == {}
    assert ctx.seen_id_pac == set()
