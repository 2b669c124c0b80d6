"""No rule shows a person's data: the records below break every rule that reads it."""

from __future__ import annotations

from datetime import date

from contracts.rules import check_file, check_record

NOVOR = "2170525 1"


def test_problems_about_personal_data_never_show_it(catalogue, samples):
    ctx = samples.context("H")
    zap = samples.record("H")
    zap["PACIENT"].update(NOVOR=NOVOR, ENP=samples.personal_values[0][:15])
    ctx.persons["P1"]["DR"] = date(2025, 11, 4)
    problems = check_record(zap, ctx, catalogue.for_file("H", "record"))

    l_ctx = samples.context("L")
    pers = samples.pers()
    pers.update(SNILS="112-233-445 96", FAM="", IM="")
    problems += check_record(pers, l_ctx, catalogue.for_file("L", "record"))
    pers.update(SNILS="112 233 445 95")
    problems += check_record(pers, l_ctx, catalogue.for_file("L", "record"))
    problems += check_file(ctx, catalogue.for_file("H", "file"))

    assert {p.oshib for p in problems} >= {
        "003F.00.0100",
        "003F.00.1530",
        "002K.00.0240",
        "004F.00.1570",
    }
    secrets = (
        *samples.personal_values,
        "2025-11-04",
        "04.11.2025",
        "640000000000000",
        "112 233 445 95",
    )
    for p in problems:
        text = f"{p.comment} {p.zn_pol or ''}"
        assert not [s for s in secrets if s in text], p
