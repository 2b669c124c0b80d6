"""``make bench-validate``: the hub's streaming FLK beside its floor and xmlschema.

One generated register (H + L, ``BENCH_CASES`` cases, default 100000, ~2 SL × 2 USL
each) is checked three ways, each in its own process:

- ``lxml``: libxml2 validates the whole tree of both files against our XSDs (the floor);
- ``omsx``: the hub's check of the zipped package — package checks, per-record XSD
  validation, repeated keys and every stateless rule of the catalogue, streaming;
- ``xmlschema``: ``XMLSchema.iter_errors`` over both whole documents.

Targets: omsx ≤ 1.5 × lxml in time with flat memory; omsx ≥ 15 × faster than xmlschema.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bench.common import ROOT, measure, peak_mb, save, table

DATA = ROOT / "bench" / ".data"


def prepare(cases: int) -> Path:
    """The generated package (cached under bench/.data by size) with its XMLs extracted."""
    from contracts.generator import write_register

    folder = DATA / f"register-{cases}"
    done = folder / "ready"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        package = write_register(
            folder, mo="640001", smo="64004", cases=cases, file_type="H", version="3.2", seed=1
        )
        with zipfile.ZipFile(package.path) as zf:
            zf.extractall(folder / "xml")
        done.write_text(package.path.name)
    return folder / done.read_text().strip()


def _xml_files(zip_path: Path) -> list[tuple[str, Path]]:
    folder = zip_path.parent / "xml"
    files = sorted(folder.iterdir(), key=lambda p: p.name.upper().startswith("L"))
    return [(("L" if p.name.upper().startswith("L") else "H"), p) for p in files]


def _format(file_type: str, path: Path):
    from lxml import etree

    from contracts.formats import find_format

    version = ""
    for _, el in etree.iterparse(str(path), tag="VERSION"):
        version = (el.text or "").strip()
        break
    fmt = find_format(file_type, version)
    assert fmt is not None, (file_type, version)
    return fmt


def setup_lxml(zip_path: Path) -> Callable[[], int]:
    from lxml import etree

    from contracts.formats import load_lxml_schema

    files = [(load_lxml_schema(_format(t, p)), p) for t, p in _xml_files(zip_path)]

    def run() -> int:
        errors = 0
        for schema, path in files:
            doc = etree.parse(str(path), etree.XMLParser(huge_tree=True, resolve_entities=False))
            if not schema.validate(doc):
                errors += len(schema.error_log)
            del doc
        return errors

    return run


def setup_xmlschema(zip_path: Path) -> Callable[[], int]:
    import xmlschema

    from contracts.formats import load_xmlschema

    xmlschema.limits.MAX_XML_ELEMENTS = 10**9
    files = [(load_xmlschema(_format(t, p)), p) for t, p in _xml_files(zip_path)]

    def run() -> int:
        return sum(1 for schema, path in files for _ in schema.iter_errors(str(path)))

    return run


def setup_omsx(zip_path: Path) -> Callable[[], int]:
    from contracts.flk import Environment, check_flk
    from contracts.package import Limits, Subject
    from contracts.participants import ParticipantDirectory, load_participants_csv, seed_path
    from contracts.refs import Directories
    from contracts.rules import load_catalogue

    seed = seed_path("64")
    assert seed is not None
    env = Environment(
        participants=ParticipantDirectory(load_participants_csv(seed)),
        refs=Directories.seed(),
        region="64",
        today=date.today(),
        catalogue=load_catalogue(),
        limits=Limits(max_package_bytes=1 << 30, max_uncompressed_bytes=4 << 30),
        workers=os.cpu_count() or 1,  # as a hub worker runs it (OMSX_FLK_WORKERS=0)
    )
    subject = Subject.parse("oms.in.mo.640001.registry")
    env.refs.valid("M001", "I10")  # the ICD-10 table loads on first use: once per process
    if env.workers > 1:  # a running worker keeps its process pool: start it before timing
        from contracts.parallel import pool

        list(pool(env, env.workers).map(abs, range(env.workers * 4)))

    def run() -> int:
        result = check_flk(zip_path, file_name=zip_path.name, subject=subject, env=env)
        return len(result.protocol.problems)

    return run


SETUPS = {"lxml": setup_lxml, "omsx": setup_omsx, "xmlschema": setup_xmlschema}


def one(method: str, zip_path: Path) -> None:
    """Build what the method needs once (as a running process would), then time the check."""
    run = SETUPS[method](zip_path)
    started = time.perf_counter()
    problems = run()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "problems": problems}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "ZIP"))
    parser.add_argument("--skip-xmlschema", action="store_true", help="(slow: minutes)")
    args = parser.parse_args()
    if args.one:
        one(args.one[0], Path(args.one[1]))
        return
    cases = int(os.environ.get("BENCH_CASES", "100000"))
    started = time.perf_counter()
    zip_path = prepare(cases)
    xml_mb = sum(p.stat().st_size for _, p in _xml_files(zip_path)) / 2**20
    print(
        f"register: {cases} cases, {xml_mb:.0f} MB of XML ({zip_path.stat().st_size / 2**20:.1f}"
        f" MB zipped), generated/cached in {time.perf_counter() - started:.1f} s, "
        f"{os.cpu_count()} cores"
    )
    methods = ["lxml", "omsx"] + ([] if args.skip_xmlschema else ["xmlschema"])
    results = {m: measure("bench.validate", m, str(zip_path)) for m in methods}
    floor = results["lxml"]["seconds"]
    rows = [
        [m, r["seconds"], r["peak_mb"], r["seconds"] / floor, int(r["problems"])]
        for m, r in results.items()
    ]
    print(table(["method", "seconds", "peak MB", "× lxml", "problems"], rows))
    ratio = results["omsx"]["seconds"] / floor
    verdicts = [f"omsx / lxml = {ratio:.2f} (target ≤ 1.5)"]
    if "xmlschema" in results:
        speedup = results["xmlschema"]["seconds"] / results["omsx"]["seconds"]
        verdicts.append(f"xmlschema / omsx = {speedup:.1f} (target ≥ 15)")
    print("; ".join(verdicts))
    path = save("validate", {"cases": cases, "xml_mb": xml_mb, "results": results})
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
