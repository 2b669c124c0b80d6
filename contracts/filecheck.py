"""Streaming check of one XML file: structure (XSD), repeated keys (905), and hooks.

The file is read once with ``iterparse``; each record element (ZAP, PERS, REC, …) is
validated on its own against the format's XSD (records are global elements there),
converted to a typed dict, handed to the hooks (the rule runner), and dropped, so
memory stays flat however large the file. The root with its header (ZGLV, SCHET) is
validated at the end against the same schema with the records made optional.

Why this path: libxml2 validating each record costs the same as validating the whole
tree but without holding it (1.7 GB for a 100k register); xmlschema is ~30× slower and
stays the authority for loading and the conformance suite.

What a hostile file can make the tree hold is bounded (each breach rejects the file):
:data:`MAX_HELD_BYTES` read without a record dropped (804: one huge record, text node or
header, or anything but records); :data:`MAX_HELD_CHILDREN` non-records kept under the
root between records (901, from the shell's validation); :data:`MAX_NAMESPACES` declared
on the root, which lxml copies for every record it validates (804); more than
:data:`MAX_ATTRIBUTES` in a record or the shell are reported once, not validated one by
one (903). Once the file is rejected and the problems fill the cap, the remaining
records are only counted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from lxml import etree

from contracts.formats import Format, compile_schema, find_format, formats_for
from contracts.privacy import safe_value
from contracts.protocol import Code, Problem, problem_of, reason_of
from contracts.records import Record, to_record
from contracts.schemaerrors import problems_from_log
from omsx.errors import PackageRejected

XS = "{http://www.w3.org/2001/XMLSchema}"
HEADER_TAGS = ("ZGLV", "SCHET")
MAX_HELD_BYTES = 4 << 20
"""Bytes of a file read without a record ending: a record (or header) is never this large."""
MAX_HELD_CHILDREN = 64
"""Elements under the root that are not records (a valid file has two: ZGLV, SCHET)."""
MAX_NAMESPACES = 32
"""Namespaces declared on the root (the formats use none; validating a record copies them)."""
MAX_ATTRIBUTES = 64
"""Attributes in one record or the shell above which they are reported once (none are valid)."""

# keys unique within a file, per record element: (path in the record dict, element name)
FILE_KEYS: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "ZAP": (
        (("N_ZAP",), "N_ZAP"),
        (("Z_SL", "IDCASE"), "IDCASE"),
        (("ID_TMK",), "ID_TMK"),
        (("ID_APPEAL",), "ID_APPEAL"),
    ),
    "PERS": ((("ID_PAC",), "ID_PAC"), (("N_ZAP",), "N_ZAP"), (("ENP",), "ENP")),
    "REC": ((("N_ZAP",), "N_ZAP"),),
    "DIR": ((("ID_D",), "ID_D"),),
    "CANCEL": ((("ID_D",), "ID_D"),),
    "HOSP": ((("ID_H",), "ID_H"),),
    "DISCH": ((("ID_H",), "ID_H"),),
    "UNIT": ((("UNIT_ID",), "UNIT_ID"),),
}


class Hooks(Protocol):
    """What the rule runner does around the structural check."""

    def begin(self, fmt: Format, header: Record) -> None: ...

    def record(self, record: Record, position: int) -> Iterable[tuple[Problem, bool]]:
        """Problems of one record, each with whether it rejects the whole file."""
        ...

    def end(self, records: int) -> Iterable[tuple[Problem, bool]]: ...


@dataclass
class FileCheck:
    """What one file's check found."""

    base_name: str
    fmt: Format | None = None
    problems: list[Problem] = field(default_factory=list)
    file_rejected: bool = False
    records: int = 0
    refused: dict[int, str] = field(default_factory=dict)
    """1-based positions of refused records → why (:func:`contracts.protocol.reason_of`)."""
    header: Record = field(default_factory=dict)
    truncated: int = 0  # problems not listed beyond the cap
    kept: list[tuple[int, Any, Record]] | None = None
    """With ``keep``: every record as (position, element, typed record), the header's
    elements and the root's tag below — what an applier in the same process would parse
    again (:mod:`workers.batches`). None when not asked, or the file had more records."""
    head_elements: dict[str, Any] = field(default_factory=dict)
    root_tag: str | None = None

    @property
    def accepted(self) -> int:
        return 0 if self.file_rejected else self.records - len(self.refused)

    def add(
        self,
        problem: Problem,
        *,
        rejects: bool = False,
        position: int | None = None,
        cap: int = 10_000,
    ) -> None:
        if rejects:
            self.file_rejected = True
        elif position is not None and problem.bas_el:
            self.refused.setdefault(position, reason_of(problem))
        if len(self.problems) < cap:
            self.problems.append(problem)
        else:
            self.truncated += 1


_local = threading.local()


def _schemas(fmt: Format) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """This thread's (record schema, shell schema) for a format.

    A libxml2 validator keeps its last error log on itself, so threads (Dramatiq runs
    several per process) must not share one; building one takes about a millisecond.
    """
    cache: dict[Format, tuple[etree.XMLSchema, etree.XMLSchema]] = _local.__dict__.setdefault(
        "schemas", {}
    )
    pair = cache.get(fmt)
    if pair is None:
        pair = cache[fmt] = (
            compile_schema(etree.parse(str(fmt.xsd), _xsd_parser())),
            shell_schema(fmt),
        )
    return pair


def _attribute_count(elem: etree._Element) -> int:
    """Attributes of ``elem`` and its descendants (a compiled XPath per thread, like schemas)."""
    counter = _local.__dict__.get("attributes")
    if counter is None:
        counter = _local.attributes = etree.XPath("count(descendant-or-self::*/@*)")
    return int(counter(elem))


def _xsd_parser() -> etree.XMLParser:
    # a parser per use: lxml parsers must not be shared between threads either
    return etree.XMLParser(resolve_entities=False, no_network=True)


def shell_schema(fmt: Format) -> etree.XMLSchema:
    """The format's schema with its records optional: validates the root and header alone."""
    doc = etree.parse(str(fmt.xsd), _xsd_parser())
    for el in doc.iter(f"{XS}element"):
        if el.get("ref") in fmt.records:
            el.set("minOccurs", "0")
    return compile_schema(doc)


def check_file(
    source: IO[bytes],
    *,
    file_type: str,
    base_name: str,
    hooks: Hooks | None = None,
    max_problems: int = 10_000,
    keep: int = 0,
) -> FileCheck:
    """Check one XML file read from ``source`` (streaming, constant memory); ``keep``:
    hand back its records (:attr:`FileCheck.kept`) if it has no more than this many."""
    result = FileCheck(base_name=base_name)
    walker = Walker(result, hooks, max_problems, file_type, keep=keep)
    if not walker.candidates:
        return result
    tags = {fmt.root for fmt in walker.candidates}
    tags |= {t for fmt in walker.candidates for t in fmt.records}
    tags.update(HEADER_TAGS)
    held = _Held(source, base_name)
    records = 0
    try:
        context = etree.iterparse(
            held,
            events=("end",),
            tag=sorted(tags),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        for _event, elem in context:
            if not walker.step(elem):
                break
            if result.records != records:
                records = result.records
                held.dropped()
        else:  # the document ended without a root that any format knows
            walker.unmatched(context.root)
    except PackageRejected as exc:  # the guards of the stream: _Held, the archive's reader
        result.add(problem_of(exc), rejects=True)
    except etree.XMLSyntaxError as exc:
        result.add(
            Problem(
                oshib=str(int(Code.STRUCTURE)),
                im_pol=base_name,
                comment=f"XML не разобран: {exc.msg}"[:250],
            ),
            rejects=True,
        )
    if result.file_rejected:  # nothing of it is applied
        result.kept = None
    return result


class _Held:
    """The file as the parser reads it; raises ``PackageRejected`` (804) once
    :data:`MAX_HELD_BYTES` were read since a record was last dropped from the tree."""

    def __init__(self, source: IO[bytes], base_name: str) -> None:
        self.source = source
        self.base_name = base_name
        self.read_bytes = 0
        self.mark = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.read_bytes += len(data)
        if self.read_bytes - self.mark > MAX_HELD_BYTES:
            comment = (
                f"в файле «{self.base_name}» больше {MAX_HELD_BYTES} байт подряд "
                "без законченной записи: запись, заголовок или текст больше предела"
            )
            raise PackageRejected(Problem.of(Code.UNSAFE, comment, self.base_name))
        return data

    def dropped(self) -> None:
        """A record left the tree: what it held is free again."""
        self.mark = self.read_bytes


def structure_problems(schema: etree.XMLSchema, elem: etree._Element) -> list[tuple[Problem, bool]]:
    """The record's XSD errors (each rejects the file), positioned.

    More than :data:`MAX_ATTRIBUTES` attributes are one problem: libxml2 reports each,
    and a million of them cost seconds and a gigabyte of error log.
    """
    flood = _attribute_flood(elem)
    if flood is not None:
        return [(flood, True)]
    if schema.validate(elem):
        return []
    return [(problem, True) for problem in problems_from_log(schema.error_log, elem)]


def _kept_before(record: etree._Element) -> int:
    """Elements before ``record`` under the root besides the header, counted up to one past
    :data:`MAX_HELD_CHILDREN` (the records before it were dropped; what remains stays)."""
    kept = 0
    previous = record.getprevious()
    while previous is not None and kept <= MAX_HELD_CHILDREN:
        kept += previous.tag not in HEADER_TAGS
        previous = previous.getprevious()
    return kept


def _attribute_flood(elem: etree._Element) -> Problem | None:
    count = _attribute_count(elem)
    if count <= MAX_ATTRIBUTES:
        return None
    first = elem.xpath("(descendant-or-self::*[@*])[1]")[0]
    parent = first.getparent()
    return Problem(
        oshib=str(int(Code.FORMAT)),
        im_pol=str(first.tag),
        bas_el=str(parent.tag) if parent is not None else "",
        comment=f"Атрибуты не предусмотрены форматом: в элементе {elem.tag} их {count}",
    )


def schemas_for(fmt: Format) -> tuple[etree.XMLSchema, etree.XMLSchema]:
    """This thread's (record schema, shell schema) for a format (see :func:`_schemas`)."""
    return _schemas(fmt)


class Walker:
    """The state of one pass over a file; the parallel path drives the same object."""

    def __init__(
        self, result: FileCheck, hooks: Hooks | None, cap: int, file_type: str, *, keep: int = 0
    ) -> None:
        self.result = result
        self.keep = keep
        if keep:
            result.kept = []
        self.hooks = hooks
        self.cap = cap
        self.file_type = file_type
        self.candidates = formats_for(file_type)
        self.fmt: Format | None = None
        self.schema: etree.XMLSchema | None = None
        self.shell: etree.XMLSchema | None = None
        self.root: etree._Element | None = None
        self.began = False
        self.seen: dict[str, set[str]] = {}
        if not self.candidates:
            self.add(
                Problem(
                    oshib=str(int(Code.UNSUPPORTED)),
                    im_pol="FILENAME",
                    zn_pol=file_type,
                    comment=f"Тип файла {file_type} не поддерживается",
                ),
                rejects=True,
            )

    def add(self, problem: Problem, *, rejects: bool = False, position: int | None = None) -> None:
        self.result.add(problem, rejects=rejects, position=position, cap=self.cap)

    def record_tag(self) -> str | None:
        """The one record element of this file type, when there is exactly one."""
        tags = {t for fmt in self.candidates for t in fmt.records}
        return next(iter(tags)) if len(tags) == 1 else None

    def step(self, elem: etree._Element) -> bool:
        parent = elem.getparent()
        if parent is None:
            return self.finish(elem)
        if parent.getparent() is not None:
            return True  # a nested element that happens to share a watched tag
        self.root = parent
        if elem.tag == "ZGLV":
            return self.resolve(elem)
        if elem.tag in HEADER_TAGS:
            return True
        if self.fmt is None:
            self.add(
                Problem(
                    oshib=str(int(Code.STRUCTURE)),
                    im_pol="ZGLV",
                    bas_el=parent.tag,
                    comment="Заголовок ZGLV должен предшествовать записям",
                ),
                rejects=True,
            )
            return False
        kept = _kept_before(elem)
        self.record(elem, parent)
        return kept <= MAX_HELD_CHILDREN or self.overflow(parent)

    def overflow(self, root: etree._Element) -> bool:
        """More than :data:`MAX_HELD_CHILDREN` elements that are neither the header nor
        records pile up under the root: judge them by the shell now, and stop (False)."""
        assert self.shell is not None
        problems = structure_problems(self.shell, root) or [
            (
                Problem(
                    oshib=str(int(Code.STRUCTURE)),
                    im_pol=str(root[-1].tag),
                    bas_el=root.tag,
                    comment=f"В элементе {root.tag} больше {MAX_HELD_CHILDREN} элементов "
                    "помимо записей",
                ),
                True,
            )
        ]
        for problem, rejects in problems:
            self.add(problem, rejects=rejects)
        return False

    def unmatched(self, root: etree._Element) -> None:
        """The document ended, but its root is none of the formats' (or is in a namespace)."""
        roots = " или ".join(sorted({fmt.root for fmt in self.candidates}))
        self.add(
            Problem(
                oshib=str(int(Code.STRUCTURE)),
                im_pol=str(root.tag),
                comment=f"Корневой элемент должен быть {roots}",
            ),
            rejects=True,
        )

    def resolve_shell(self, root: etree._Element) -> bool:
        """Resolve the format from a parsed head (root with ZGLV and SCHET only)."""
        zglv = root.find("ZGLV")
        if zglv is None:
            return False
        self.root = root
        return self.resolve(zglv)

    def resolve(self, zglv: etree._Element) -> bool:
        version = (zglv.findtext("VERSION") or "").strip()
        fmt = find_format(self.file_type, version)
        if fmt is None:
            known = ", ".join(sorted({f.version for f in self.candidates}))
            self.add(
                Problem(
                    oshib=str(int(Code.UNSUPPORTED)),
                    im_pol="VERSION",
                    bas_el="ZGLV",
                    zn_pol=version[:100] or None,
                    comment=f"Версия формата «{version}» для файлов {self.file_type} "
                    f"не поддерживается; поддерживаются: {known}",
                ),
                rejects=True,
            )
            return False
        assert self.root is not None
        if self.root.tag != fmt.root:
            self.add(
                Problem(
                    oshib=str(int(Code.STRUCTURE)),
                    im_pol=self.root.tag,
                    comment=f"Корневой элемент должен быть {fmt.root}",
                ),
                rejects=True,
            )
            return False
        if len(self.root.nsmap) > MAX_NAMESPACES:
            self.add(
                Problem.of(
                    Code.UNSAFE,
                    f"В корневом элементе объявлено больше {MAX_NAMESPACES} пространств имён",
                    self.root.tag,
                ),
                rejects=True,
            )
            return False
        self.fmt = fmt
        self.result.fmt = fmt
        self.schema, self.shell = _schemas(fmt)
        return True

    def record(self, elem: etree._Element, root: etree._Element) -> None:
        assert self.fmt is not None and self.schema is not None
        if elem.tag not in self.fmt.records:
            return  # an unexpected element: the shell validation reports it at the end
        self.result.records += 1
        position = self.result.records
        if self.result.file_rejected and len(self.result.problems) >= self.cap:
            root.remove(elem)  # nothing more can be listed: the record is only counted
            return
        if not self.began:
            self.begin(root)
        structure = structure_problems(self.schema, elem)
        record = to_record(elem)
        rules = self.hooks.record(record, position) if self.hooks is not None else ()
        self.fold(position, structure, record, nested_key_problems(record, elem.tag), rules)
        root.remove(elem)
        kept = self.result.kept
        if kept is not None:
            if position <= self.keep and not self.result.file_rejected:
                kept.append((position, elem, record))
            else:  # too many to hold, or nothing of it is applied: not kept at all
                self.result.kept = None

    def begin(self, root: etree._Element) -> None:
        assert self.fmt is not None
        header = {
            child.tag: to_record(child)
            for child in root
            if isinstance(child.tag, str) and child.tag in HEADER_TAGS
        }
        self.result.header = header
        self.began = True
        if self.hooks is not None:
            self.hooks.begin(self.fmt, header)

    def fold(
        self,
        position: int,
        structure: Iterable[tuple[Problem, bool]],
        keys: Record,
        nested: Iterable[tuple[Problem, bool]],
        rules: Iterable[tuple[Problem, bool]],
    ) -> None:
        """One record's findings into the file's result, in the one order both the
        sequential and the parallel path use (so their protocols are identical)."""
        for problem, rejects in structure:
            self.add(problem, rejects=rejects)
        self.keys_of(keys, position)
        for problem, _ in nested:
            self.add(problem, position=position)
        for problem, rejects in rules:
            self.add(problem, rejects=rejects, position=position)

    def keys_of(self, record: Record, position: int) -> None:
        """Keys unique across the file (905 refuses the later record)."""
        assert self.fmt is not None
        for tag in self.fmt.records:
            for path, name in FILE_KEYS.get(tag, ()):
                value = _dig(record, path)
                if not isinstance(value, str) or not value:
                    continue
                seen = self.seen.setdefault(name, set())
                if value in seen:
                    self.add(
                        Problem(
                            oshib=str(int(Code.REPEATED_KEY)),
                            im_pol=name,
                            bas_el=tag,
                            n_zap=_s(record.get("N_ZAP")),
                            idcase=_s(_dig(record, ("Z_SL", "IDCASE"))),
                            zn_pol=safe_value(name, value),
                            comment=f"Значение {name} повторяется в файле",
                        ),
                        position=position,
                    )
                else:
                    seen.add(value)

    def finish(self, root: etree._Element) -> bool:
        self.root = root
        if self.fmt is None:
            self.add(
                Problem(
                    oshib=str(int(Code.STRUCTURE)),
                    im_pol="ZGLV",
                    bas_el=root.tag,
                    comment="В файле нет заголовка ZGLV",
                ),
                rejects=True,
            )
            return False
        if not self.began:
            self.begin(root)
        shell = self.shell
        assert shell is not None
        for problem, rejects in structure_problems(shell, root):
            self.add(problem, rejects=rejects)
        if self.hooks is not None:
            for problem, rejects in self.hooks.end(self.result.records):
                self.add(problem, rejects=rejects)
        if self.result.kept is not None:
            self.result.root_tag = root.tag
            self.result.head_elements = {c.tag: c for c in root if c.tag in HEADER_TAGS}
        return False


def key_projection(record: Record, tags: Iterable[str]) -> Record:
    """Only the values :data:`FILE_KEYS` reads for ``tags`` (what a worker process sends
    back so the parent can judge keys repeated across the whole file)."""
    out: Record = {}
    for tag in tags:
        for path, _ in FILE_KEYS.get(tag, ()):
            value = _dig(record, path)
            if value is None:
                continue
            target = out
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
    return out


def nested_key_problems(record: Record, tag: str) -> list[tuple[Problem, bool]]:
    """SL_ID unique within its Z_SL, IDSERV within its SL (905, the record is refused)."""
    z_sl = record.get("Z_SL") if tag == "ZAP" else None
    if not isinstance(z_sl, dict):
        return []
    out: list[tuple[Problem, bool]] = []
    base = {"n_zap": _s(record.get("N_ZAP")), "idcase": _s(z_sl.get("IDCASE"))}
    sl_ids: set[str] = set()
    for sl in z_sl.get("SL", ()):
        if not isinstance(sl, dict):
            continue
        sl_id = _s(sl.get("SL_ID"))
        if _repeated(sl_ids, sl_id):
            out.append(
                (
                    _repeat_problem("SL_ID", "SL", sl_id, "законченного случая", base, sl_id=sl_id),
                    False,
                )
            )
        services: set[str] = set()
        for usl in sl.get("USL", ()):
            idserv = _s(usl.get("IDSERV")) if isinstance(usl, dict) else None
            if _repeated(services, idserv):
                out.append(
                    (
                        _repeat_problem(
                            "IDSERV", "USL", idserv, "случая (SL)", base, sl_id=sl_id, idserv=idserv
                        ),
                        False,
                    )
                )
    return out


def _repeated(seen: set[str], value: str | None) -> bool:
    """Record ``value`` as seen; True when it was seen before."""
    if value is None:
        return False
    if value in seen:
        return True
    seen.add(value)
    return False


def _repeat_problem(
    tag: str,
    parent: str,
    value: str | None,
    within: str,
    base: dict[str, str | None],
    **keys: str | None,
) -> Problem:
    return Problem(
        oshib=str(int(Code.REPEATED_KEY)),
        im_pol=tag,
        bas_el=parent,
        zn_pol=value,
        comment=f"{tag} повторяется в пределах {within}",
        **base,
        **keys,
    )


def _dig(record: Record, path: tuple[str, ...]) -> object:
    value: object = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _s(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


__all__ = ["FileCheck", "Hooks", "check_file"]
