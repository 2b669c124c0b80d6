"""Generated files against the published reference XSDs and the project's own schemas."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from contracts.filenames import parse_name
from contracts.generator import GeneratorConfig, generate, write_register
from contracts.generator.spec import REGISTER_TYPES, layout_for

PUBLISHED = [
    (type_, version)
    for type_ in REGISTER_TYPES
    for version in ("3.1", "3.2")
    if layout_for(type_, version).reference is not None
]


def _schema(reference: Path, name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(reference / "registry-v3" / name)))


@pytest.mark.parametrize("defects", [0.0, 0.5])
@pytest.mark.parametrize(("type_", "version"), PUBLISHED)
def test_a_register_validates_against_the_published_xsd_of_its_edition(
    reference: Path, tmp_path: Path, gen: Any, type_: str, version: str, defects: float
) -> None:
    package = write_register(
        tmp_path,
        mo="640001",
        smo="64004",
        cases=60,
        file_type=type_,
        version=version,
        defects=defects,
        seed=3,
        sl_per_case=3,
        usl_per_sl=3,
    )
    layout = layout_for(type_, version)
    assert layout.reference is not None
    schema = _schema(reference, layout.reference)
    main = gen.parse(gen.members(package.path)[f"{package.file_name}.xml"])
    schema.validate(main)
    # The published XSDs declare IDCASE unique; the hub leaves keys to rules (905), so a
    # planted repeat is the one thing a strict published-schema check would reject.
    repeated = [d for d in package.defects if d.kind == "idcase_repeat"]
    errors = [e for e in schema.error_log if "IDCASE" not in e.message]
    assert errors == [], errors
    assert len(schema.error_log) == len(repeated)


def test_c_and_t_have_no_published_32_schema_and_say_so() -> None:
    assert layout_for("C", "3.2").reference is None
    assert layout_for("T", "3.2").reference is None
    assert layout_for("H", "3.2").reference == "H-3.2.xsd"
    assert layout_for("DP", "3.2").reference == "D-3.1-2021-08.xsd"


@pytest.mark.parametrize("version", ["3.1", "3.2"])
def test_every_generated_file_validates_against_the_hubs_own_schema(
    demo_by_version: dict[str, Path], version: str
) -> None:
    formats = pytest.importorskip("contracts.formats", reason="the hub's schemas are not here")
    checked = 0
    for path in sorted(demo_by_version[version].glob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                root = etree.parse(io.BytesIO(archive.read(name))).getroot()
                found = formats.find_format(parse_name(name).type, root.findtext("ZGLV/VERSION"))
                assert found is not None, name
                schema = formats.load_lxml_schema(found)
                assert schema.validate(root), (name, schema.error_log)
                checked += 1
    assert checked > 50


@pytest.fixture(scope="module")
def demo_by_version(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folders = {}
    for version in ("3.1", "3.2"):
        folder = tmp_path_factory.mktemp(f"demo{version}")
        generate(folder, GeneratorConfig(mo=2, smo=2, cases=40, defects=0.3, version=version))
        folders[version] = folder
    return folders
