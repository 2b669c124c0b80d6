"""Registers made by ``write_register``: invariants, planted defects, determinism."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from contracts.generator import Defect, GeneratedPackage, write_register
from contracts.generator.checksums import enp_valid, snils_valid
from contracts.generator.spec import REGISTER_TYPES
from omsx.errors import ConfigError

ALL = [(t, v) for t in REGISTER_TYPES for v in ("3.1", "3.2")]


def _write(folder: Path, type_: str = "H", version: str = "3.2", **kw: Any) -> GeneratedPackage:
    options: dict[str, Any] = {"cases": 80, "seed": 5, "sl_per_case": 2, "usl_per_sl": 2}
    options.update(kw)
    return write_register(
        folder, mo="640002", smo="64003", file_type=type_, version=version, **options
    )


@pytest.mark.parametrize(("type_", "version"), ALL)
def test_a_clean_register_breaks_no_record_or_file_rule(
    tmp_path: Path, gen: Any, type_: str, version: str
) -> None:
    package = _write(tmp_path, type_, version, sl_per_case=3, usl_per_sl=3)
    register = gen.Register.read(package.path)
    flk = gen.Flk(register)
    assert flk.problems() == {}
    assert flk.file_problems() == set()
    assert package.defects == []
    assert len(register.zaps) == package.records == 80


@pytest.mark.parametrize(("type_", "version"), ALL)
def test_each_planted_defect_breaks_exactly_the_rule_the_manifest_names(
    tmp_path: Path, gen: Any, type_: str, version: str
) -> None:
    package = _write(tmp_path, type_, version, cases=150, defects=0.4)
    register = gen.Register.read(package.path)
    flk = gen.Flk(register)
    expected = {_n_zap(d, register, gen): {d.expected} for d in package.defects}
    assert flk.problems() == expected
    assert flk.file_problems() == set()  # SUMMAV, SD_Z and the L-file links stay right
    assert len(package.defects) > 30


def _n_zap(defect: Defect, register: Any, gen: Any) -> int:
    """The ZAP a defect refuses: its N_ZAP, or for an L-file defect the ZAP with its ID_PAC."""
    if defect.n_zap is not None:
        assert defect.file_name + ".xml" == register.main_name
        return defect.n_zap
    assert defect.file_name + ".xml" == register.personal_name
    (zap,) = [z for z in register.zaps if gen.text(z, "PACIENT/ID_PAC") == defect.key]
    return int(gen.text(zap, "N_ZAP"))


def test_a_defective_register_differs_from_its_clean_twin_only_in_the_planted_records(
    tmp_path: Path, gen: Any
) -> None:
    clean = gen.Register.read(_write(tmp_path / "a", cases=200).path)
    package = _write(tmp_path / "b", cases=200, defects=0.2)
    dirty = gen.Register.read(package.path)
    differing = {
        int(gen.text(a, "N_ZAP"))
        for a, b in zip(clean.zaps, dirty.zaps, strict=True)
        if etree.tostring(a) != etree.tostring(b)
    }
    assert differing == {_n_zap(d, dirty, gen) for d in package.defects}


def test_sums_add_up_in_every_case_and_in_the_invoice(tmp_path: Path, gen: Any) -> None:
    register = gen.Register.read(_write(tmp_path, cases=120, sl_per_case=3, usl_per_sl=4).path)
    total = sum(gen.money(z, "Z_SL/SUMV") for z in register.zaps)
    assert total == gen.money(register.main, "SCHET/SUMMAV") > 0
    for zap in register.zaps:
        sls = zap.findall("Z_SL/SL")
        assert gen.money(zap, "Z_SL/SUMV") == sum(gen.money(sl, "SUM_M") for sl in sls)
        for usl in zap.iter("USL"):
            tariff = gen.money(usl, "TARIF") * gen.money(usl, "KOL_USL")
            assert gen.money(usl, "SUMV_USL") in (0, tariff)


def test_every_id_pac_has_one_pers_with_a_valid_snils_and_enp(tmp_path: Path, gen: Any) -> None:
    register = gen.Register.read(_write(tmp_path, cases=300).path)
    ids = Counter(gen.text(z, "PACIENT/ID_PAC") for z in register.zaps)
    persons = Counter(gen.text(p, "ID_PAC") for p in register.personal.findall("PERS"))
    assert set(persons) == set(ids) and set(persons.values()) == {1}
    assert max(ids.values()) > 1  # people come back: cases outnumber persons
    assert all(snils_valid(gen.text(p, "SNILS")) for p in register.personal.findall("PERS"))
    assert all(enp_valid(gen.text(z, "PACIENT/ENP")) for z in register.zaps)
    head = register.personal.find("ZGLV")
    assert gen.text(head, "FILENAME1") == gen.text(register.main, "ZGLV/FILENAME")


def test_dates_are_ordered_inside_the_reporting_month(tmp_path: Path, gen: Any) -> None:
    register = gen.Register.read(
        _write(tmp_path, cases=200, sl_per_case=3, year=2026, month=2).path
    )
    for zap in register.zaps:
        z = zap.find("Z_SL")
        z1, z2 = gen.day(z, "DATE_Z_1"), gen.day(z, "DATE_Z_2")
        assert (z1.year, z1.month) == (z2.year, z2.month) == (2026, 2)
        for sl in z.findall("SL"):
            assert z1 <= gen.day(sl, "DATE_1") <= gen.day(sl, "DATE_2") <= z2
        npr = gen.day(z, "NPR_DATE")
        assert npr is None or npr < z1
    assert gen.text(register.main, "SCHET/DSCHET") == "2026-02-28"


def test_planned_hospital_care_carries_its_referral(tmp_path: Path, gen: Any) -> None:
    register = gen.Register.read(_write(tmp_path, cases=300).path)
    planned = [
        z
        for z in register.zaps
        if gen.text(z, "Z_SL/FOR_POM") == "3" and gen.text(z, "Z_SL/USL_OK") in ("1", "2")
    ]
    assert planned
    for zap in planned:
        assert gen.text(zap, "Z_SL/NPR_MO") and gen.text(zap, "Z_SL/NPR_DATE")


def test_keys_are_unique_in_a_file_and_across_an_mos_registers(tmp_path: Path, gen: Any) -> None:
    idcases: list[str] = []
    for type_ in REGISTER_TYPES:
        register = gen.Register.read(_write(tmp_path, type_, cases=50).path)
        idcases += [gen.text(z, "Z_SL/IDCASE") for z in register.zaps]
        for zap in register.zaps:
            sl_ids = [gen.text(sl, "SL_ID") for sl in zap.iter("SL")]
            assert len(sl_ids) == len(set(sl_ids))
            for sl in zap.iter("SL"):
                services = [gen.text(u, "IDSERV") for u in sl.iter("USL")]
                assert len(services) == len(set(services))
    assert len(idcases) == len(set(idcases))


def test_oncology_and_dispensary_files_carry_what_their_rules_ask(tmp_path: Path, gen: Any) -> None:
    onco = gen.Register.read(_write(tmp_path, "C", cases=200).path)
    kinds = Counter(gen.text(sl, "DS_ONK") for sl in onco.main.iter("SL"))
    assert kinds["0"] and kinds["1"]  # confirmed and suspected
    assert onco.main.find(".//ONK_SL") is not None and onco.main.find(".//NAPR") is not None
    exams = gen.Register.read(_write(tmp_path, "DP", cases=200).path)
    groups = Counter(gen.text(z, "Z_SL/RSLT_D") for z in exams.zaps)
    assert {"1", "2", "31", "32"} <= set(groups)
    assert gen.text(exams.main, "SCHET/DISP") == "ДВ4"


def test_the_same_arguments_write_the_same_bytes(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", "C", defects=0.3)
    second = _write(tmp_path / "b", "C", defects=0.3)
    other = _write(tmp_path / "c", "C", defects=0.3, seed=6)
    digest = [hashlib.sha256(p.path.read_bytes()).hexdigest() for p in (first, second, other)]
    assert digest[0] == digest[1] != digest[2]
    assert first.defects == second.defects


def test_names_and_members_follow_the_file_name_grammar(tmp_path: Path, gen: Any) -> None:
    h = _write(tmp_path, "H", number=2)
    c = _write(tmp_path, "C")
    d = _write(tmp_path, "DO")
    assert h.path.name == "HM640002S64003_25112.zip" and h.sender == "mo.640002"
    assert h.members == ["HM640002S64003_25112.xml", "LM640002S64003_25112.xml"]
    assert c.members == ["CM640002S64003_25111.xml", "LCM640002S64003_25111.xml"]
    assert d.members == ["DOM640002S64003_25111.xml", "LOM640002S64003_25111.xml"]
    assert sorted(gen.members(h.path)) == sorted(h.members)
    assert h.subject == "oms.in.mo.640002.registry"


def test_files_are_windows_1251_with_their_declaration(tmp_path: Path, gen: Any) -> None:
    package = _write(tmp_path, cases=5)
    for data in gen.members(package.path).values():
        assert data.startswith(b"<?xml version='1.0' encoding='windows-1251'?>")
        data.decode("cp1251")


@pytest.mark.parametrize(
    "bad",
    [
        {"file_type": "DS"},
        {"version": "3.0"},
        {"defects": 1.5},
        {"cases": 0},
        {"sl_per_case": 0},
        {"mo": "64001"},
        {"month": 13},
    ],
)
def test_impossible_settings_raise_a_config_error(tmp_path: Path, bad: dict[str, Any]) -> None:
    options: dict[str, Any] = {"mo": "640001", "smo": "64001", "cases": 3, **bad}
    with pytest.raises(ConfigError):
        write_register(tmp_path, **options)
