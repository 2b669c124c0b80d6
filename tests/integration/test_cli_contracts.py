"""The operators' contract tools: omsx check, omsx demo generate, omsx refs load."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from admin.cli import main
from omsx.settings import Settings
from storage.db import dispose_engines
from storage.migrate import upgrade
from storage.refs import directories
from tests.builders import register

pytestmark = pytest.mark.integration


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_omsx_check_accepts_a_clean_register_with_exit_0(tmp_path: Path) -> None:
    name, data = register("HM640001S64004_25111", n=20, seed=1)
    (tmp_path / name).write_bytes(data)
    code, out = run("check", str(tmp_path / name), "--as", "mo.640001")
    assert code == 0, out
    assert "RESULT A  принято 20  отказано 0" in out
    assert "не выполнены (нужны данные хаба): 005K.64.0001" in out


def test_omsx_check_refuses_planted_defects_with_exit_1_and_names_them(tmp_path: Path) -> None:
    name, data = register("HM640001S64004_25111", n=60, defects=0.1, seed=3)
    (tmp_path / name).write_bytes(data)
    code, out = run("check", str(tmp_path / name), "--as", "mo.640001")
    assert code == 1, out
    assert "RESULT P" in out
    assert "N_ZAP=" in out and "IDCASE=" in out


def test_omsx_check_takes_a_bare_xml_with_its_l_file_beside_it(tmp_path: Path) -> None:
    name, data = register("HM640001S64004_25111", n=5, seed=2)
    with (
        zipfile.ZipFile(tmp_path / name, "w") as zf,
        zipfile.ZipFile(__import__("io").BytesIO(data)) as src,
    ):
        for info in src.infolist():
            zf.writestr(info.filename, src.read(info))
    with zipfile.ZipFile(tmp_path / name) as zf:
        zf.extractall(tmp_path / "bare")
    code, out = run(
        "check", str(tmp_path / "bare" / "HM640001S64004_25111.xml"), "--as", "mo.640001"
    )
    assert code == 0, out


def test_omsx_check_rejects_a_file_from_another_sender_with_exit_2(tmp_path: Path) -> None:
    name, data = register("HM640001S64004_25111", n=5)
    (tmp_path / name).write_bytes(data)
    code, out = run("check", str(tmp_path / name), "--as", "mo.640002")
    assert code == 2
    assert "806" in out


def test_omsx_check_structure_only_says_the_rules_were_skipped(tmp_path: Path) -> None:
    name, data = register("HM640001S64004_25111", n=30, defects=0.2, seed=5)
    (tmp_path / name).write_bytes(data)
    _, out = run("check", str(tmp_path / name), "--as", "mo.640001", "--structure-only")
    assert "правила не применялись" in out
    assert "006F" not in out and "002K" not in out


def test_omsx_demo_generate_writes_every_kind_and_a_manifest(tmp_path: Path) -> None:
    code, out = run(
        "demo",
        "generate",
        "--out",
        str(tmp_path),
        "--mo",
        "2",
        "--smo",
        "1",
        "--cases",
        "10",
        "--defects",
        "0.1",
        "--seed",
        "4",
    )
    assert code == 0, out
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    kinds = {p["kind"] for p in manifest["packages"]}
    assert kinds >= {"registry", "attach", "erz", "hosp", "tmk", "schedule", "appeal", "expert"}
    assert all((tmp_path / p["path"]).is_file() for p in manifest["packages"])


def test_a_loaded_federal_directory_replaces_the_seed_for_the_checks(
    omsx_env: Settings, tmp_path: Path
) -> None:
    upgrade(omsx_env.database_url)
    v006 = tmp_path / "V006.xml"
    v006.write_text(
        '<?xml version="1.0" encoding="utf-8"?><packet><zglv><type>V006</type></zglv>'
        "<zap><IDUMP>1</IDUMP><UMPNAME>Стационарно</UMPNAME><DATEBEG>01.01.2011</DATEBEG>"
        "</zap><zap><IDUMP>3</IDUMP><UMPNAME>Амбулаторно</UMPNAME><DATEBEG>01.01.2011"
        "</DATEBEG><DATEEND>31.12.2020</DATEEND></zap></packet>",
        encoding="utf-8",
    )
    code, out = run("refs", "load", str(v006))
    assert code == 0, out
    assert "V006: 2 rows" in out
    directories.clear()
    try:
        refs = directories.get()
        from datetime import date

        assert refs.valid("V006", "1", date(2025, 11, 30))
        assert not refs.valid("V006", "3", date(2025, 11, 30))  # retired in the loaded file
        assert not refs.valid("V006", "2", date(2025, 11, 30))  # absent from the loaded file
        assert refs.valid("V002", "97", date(2025, 11, 30))  # other directories: the seed
    finally:
        directories.clear()
        dispose_engines()
