"""A generated month (``generate``): kinds, consistency across kinds, manifest, determinism."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from contracts.generator import MANIFEST_NAME, GeneratorConfig, Manifest, generate
from contracts.package import Subject, check_package
from contracts.participants import ParticipantDirectory, load_participants_csv, seed_path
from omsx.errors import ConfigError

ORDER = ["erz", "attach", "registry", "hosp", "tmk", "appeal", "expert"]
INSERTED = {"erz_enp_repeat", "attach_overlap", "hosp_unknown_ref", "expert_unknown_case"}
"""Defect kinds that add a record (the others change one)."""
HEADERS = {"ZGLV", "SCHET"}


def _records(gen: Any, path: Path) -> list[Any]:
    files = gen.members(path)
    main = next(name for name in sorted(files) if not name.startswith("L"))
    return [e for e in gen.parse(files[main]) if e.tag not in HEADERS]


def test_a_month_has_every_kind_in_the_order_to_publish(demo: Any) -> None:
    kinds = [p.kind for p in demo.manifest.packages]
    firsts = [kinds.index(kind) for kind in ORDER]
    assert firsts == sorted(firsts)
    assert set(kinds) == {*ORDER, "schedule"}
    hosp = [p.file_name[:3] for p in demo.manifest.packages if p.kind == "hosp"]
    assert hosp == sorted(hosp) and {"I01", "I03", "I04", "I05", "I06", "I07"} == set(hosp)
    registers = [p.file_name.split("M")[0] for p in demo.manifest.packages if p.kind == "registry"]
    assert set(registers) == {"H", "C", "T", "DP", "DV", "DO"}
    assert len(registers) == 6 * 2 * 2


def test_every_package_passes_the_hubs_package_checks(demo: Any) -> None:
    path = seed_path("64")
    assert path is not None
    directory = ParticipantDirectory(load_participants_csv(path))
    for package in demo.manifest.packages + demo.twin.packages:
        check = check_package(
            package.path,
            file_name=package.package_name,
            subject=Subject.parse(package.subject),
            participants=directory,
            region="64",
        )
        assert check.ok, (package.package_name, check.problem)
        assert check.records == package.records


def test_the_manifest_is_written_and_reads_back_equal(demo: Any) -> None:
    assert Manifest.load(demo.folder) == demo.manifest
    assert (demo.folder / MANIFEST_NAME).is_file()
    assert demo.manifest.people == 120 and demo.manifest.seed == 7
    assert demo.manifest.config["cases"] == 60


def test_a_person_keeps_enp_snils_name_and_birth_date_in_every_kind(demo: Any, gen: Any) -> None:
    spoiled = {d.key for d in demo.manifest.defects if d.kind == "snils_bad"}
    names: dict[str, set[tuple[str | None, ...]]] = defaultdict(set)
    snils: dict[str, set[str | None]] = defaultdict(set)
    t = gen.text
    for package in demo.manifest.packages:
        files = gen.members(package.path)
        roots = {name: gen.parse(data) for name, data in files.items()}
        if package.kind == "registry":
            main, personal = (roots[n] for n in package.members)
            enp = {
                t(z, "PACIENT/ID_PAC"): t(z, "PACIENT/ENP") or t(z, "PACIENT/NPOLIS")
                for z in main.iter("ZAP")
            }
            for pers in personal.iter("PERS"):
                key = enp[t(pers, "ID_PAC")]
                names[key].add((t(pers, "FAM"), t(pers, "IM"), t(pers, "OT"), t(pers, "DR")))
                if t(pers, "ID_PAC") not in spoiled:
                    snils[key].add(t(pers, "SNILS"))
        for root in roots.values():
            for rec in [*root.iter("PERS"), *root.iter("REC")]:
                if t(rec, "ENP"):
                    names[t(rec, "ENP")].add(
                        (t(rec, "FAM"), t(rec, "IM"), t(rec, "OT"), t(rec, "DR"))
                    )
                if t(rec, "SNILS") and t(rec, "ENP"):
                    snils[t(rec, "ENP")].add(t(rec, "SNILS"))
            for p in root.iter("PATIENT"):
                names[t(p, "ENP")].add(
                    (t(p, "SURNAME"), t(p, "NAME"), t(p, "PATRONYMIC"), t(p, "BIRTHDAY"))
                )
    assert len(names) == demo.manifest.people
    assert all(len(v) == 1 for v in names.values())
    assert all(len(v) == 1 for v in snils.values())


def test_a_register_to_an_smo_holds_only_people_that_smo_insures(demo: Any, gen: Any) -> None:
    insured: dict[str, str] = {}
    for package in demo.twin.packages:
        if package.kind == "erz" and package.file_name.endswith("1"):
            root = gen.parse(gen.members(package.path)[package.members[0]])
            for pers in root.iter("PERS"):
                assert pers.findtext("ENP") not in insured  # one СМО per person
                insured[pers.findtext("ENP")] = package.sender.split(".")[1]
    for package in demo.twin.packages:
        if package.kind == "registry":
            main = gen.parse(gen.members(package.path)[package.members[0]])
            plat = main.findtext("SCHET/PLAT")
            for zap in main.iter("ZAP"):
                policy = zap.findtext("PACIENT/ENP") or zap.findtext("PACIENT/NPOLIS")
                assert insured[policy] == zap.findtext("PACIENT/SMO") == plat


def test_hospitalisation_references_resolve_except_the_planted_ones(demo: Any, gen: Any) -> None:
    ids: dict[str, set[str]] = defaultdict(set)
    refs: list[tuple[str, str, str, int]] = []
    planted = {
        (d.file_name, d.n_zap) for d in demo.manifest.defects if d.kind == "hosp_unknown_ref"
    }
    for package in demo.manifest.packages:
        if package.kind != "hosp":
            continue
        type_ = package.file_name[:3]
        for position, record in enumerate(_records(gen, package.path), start=1):
            if type_ == "I01":
                ids["D"].add(record.findtext("ID_D"))
            elif type_ in ("I04", "I05"):
                ids["H"].add(record.findtext("ID_H"))
            if type_ in ("I03", "I04"):
                refs.append((package.file_name, "D", record.findtext("ID_D"), position))
            if type_ == "I06":
                refs.append((package.file_name, "H", record.findtext("ID_H"), position))
    broken = {(name, pos) for name, kind, value, pos in refs if value not in ids[kind]}
    assert broken == planted and planted


def test_expert_sanctions_refer_to_clean_cases_invoiced_to_that_smo(demo: Any, gen: Any) -> None:
    cases: dict[tuple[str | None, ...], Any] = {}
    refused = {(d.file_name, d.key) for d in demo.manifest.defects if d.file_name[0] == "H"}
    for package in demo.manifest.packages:
        if package.kind == "registry" and package.file_name.startswith("H"):
            main = gen.parse(gen.members(package.path)[package.members[0]])
            for z in main.iter("Z_SL"):
                if (package.file_name, z.findtext("IDCASE")) not in refused:
                    head = [main.findtext(f"SCHET/{tag}") for tag in ("CODE_MO", "PLAT", "NSCHET")]
                    cases[(*head, z.findtext("IDCASE"))] = z
    planted = {
        (d.file_name, d.n_zap) for d in demo.manifest.defects if d.file_name.startswith("AS")
    }
    checked = 0
    for package in demo.manifest.packages:
        if package.kind != "expert":
            continue
        smo = package.sender.split(".")[1]
        for zap in _records(gen, package.path):
            if (package.file_name, int(zap.findtext("N_ZAP"))) in planted:
                continue
            case = cases[
                zap.findtext("CODE_MO"), smo, zap.findtext("NSCHET"), zap.findtext("IDCASE")
            ]
            assert gen.money(zap, "SANK/S_SUM") <= gen.money(case, "SUMV")
            assert zap.findtext("SANK/SL_ID") in [sl.findtext("SL_ID") for sl in case.iter("SL")]
            checked += 1
    assert checked > 5


def test_the_defect_manifest_lists_exactly_what_differs_from_the_clean_twin(
    demo: Any, gen: Any
) -> None:
    twins = {p.file_name: p for p in demo.twin.packages}
    for package in demo.manifest.packages:
        if package.kind == "expert":  # which cases are reviewed depends on the register defects
            continue
        dirty = _records(gen, package.path)
        clean = _records(gen, twins[package.file_name].path)
        positions = _defect_positions(package, dirty, gen)
        inserted = {pos for pos, kind in positions if kind in INSERTED}
        changed = {pos for pos, kind in positions if kind not in INSERTED}
        kept = [(pos, r) for pos, r in enumerate(dirty, start=1) if pos not in inserted]
        assert len(kept) == len(clean), package.file_name
        differing = {
            pos for (pos, a), b in zip(kept, clean, strict=True) if _content(a) != _content(b)
        }
        assert differing == changed, package.file_name


def _defect_positions(package: Any, records: list[Any], gen: Any) -> list[tuple[int, str]]:
    positions = []
    for defect in package.defects:
        if defect.n_zap is not None:
            positions.append((defect.n_zap, defect.kind))
        else:  # an L-file PERS: the ZAP pointing to it
            ids = [gen.text(r, "PACIENT/ID_PAC") for r in records]
            positions.append((ids.index(defect.key) + 1, defect.kind))
    return positions


def _content(record: Any) -> bytes:
    copy = etree.fromstring(etree.tostring(record))
    for n_zap in copy.findall("N_ZAP"):
        copy.remove(n_zap)
    return bytes(etree.tostring(copy))


def test_defects_come_at_about_the_asked_rate_in_every_kind_that_has_them(demo: Any) -> None:
    kinds = {d.kind for d in demo.manifest.defects}
    assert {
        "idcase_repeat",
        "snils_bad",
        "attach_overlap",
        "erz_enp_repeat",
        "hosp_unknown_ref",
    } <= kinds
    records = sum(p.records for p in demo.manifest.packages if p.kind != "schedule")
    rate = len(demo.manifest.defects) / records
    assert 0.08 < rate < 0.2
    assert demo.twin.defects == []


def test_the_same_config_writes_the_same_bytes(tmp_path: Path) -> None:
    config = GeneratorConfig(mo=1, smo=2, cases=15, defects=0.2, seed=99)
    first, second = generate(tmp_path / "a", config), generate(tmp_path / "b", config)
    assert [p.file_name for p in first.packages] == [p.file_name for p in second.packages]
    for a, b in zip(first.packages, second.packages, strict=True):
        assert _digest(a.path) == _digest(b.path), a.file_name
    assert first.to_json() == second.to_json()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "bad",
    [{"mo": 0}, {"smo": 100}, {"region": "6"}, {"cases": 0}, {"defects": -0.1}, {"version": "3.3"}],
)
def test_an_impossible_config_raises_a_config_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        GeneratorConfig(**bad)
