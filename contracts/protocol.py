"""The FLK protocol of exchange.md §5: codes, problems, and the ``FLK_P`` file.

::

    FLK_P
      FNAME FNAME_I RESULT N_ACC N_REJ
      PR*  OSHIB IM_POL BAS_EL N_ZAP? IDCASE? SL_ID? IDSERV? ID_PAC? ZN_POL? COMMENT

The shape is ``schemas/flk_p.xsd``; :func:`render_protocol` writes it and
:func:`parse_protocol` reads it back, validating against that schema.

Decisions where the contract is silent:

- text that XML 1.0 cannot carry (control characters, lone surrogates) is dropped;
- COMMENT is cut to 250 characters ending with "…"; every other PR field
  (IM_POL, BAS_EL, the keys and ZN_POL) is cut to 100 characters;
- when the file is rejected nothing is applied, so :meth:`Protocol.decide` counts
  every record as refused (N_ACC = 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from enum import IntEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

from lxml import etree

from contracts.formats import compile_schema
from omsx.errors import ContractError, PackageRejected

Result = Literal["A", "P", "R"]
Level = Literal["package", "file", "record"]

SCHEMA_PATH = Path(__file__).with_name("schemas") / "flk_p.xsd"
MAX_COMMENT = 250
MAX_VALUE = 100
_OSHIB = re.compile(r"[0-9]{3}|[0-9]{3}[A-Z]\.[0-9]{2}\.[0-9]{4}")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ENCODINGS = {"utf-8": "UTF-8", "windows-1251": "windows-1251"}
_KEYS = ("n_zap", "idcase", "sl_id", "idserv", "id_pac", "zn_pol")


class Code(IntEnum):
    """The F012-style codes of §5; ``meaning`` is the one-line Russian text."""

    NOT_A_ZIP = 801
    BAD_NAME = 802
    FILE_SET = 803
    UNSAFE = 804
    DUPLICATE = 805
    SENDER = 806
    UNSUPPORTED = 807
    WRONG_KIND = 808
    STRUCTURE = 901
    EMPTY = 902
    FORMAT = 903
    DIRECTORY = 904
    REPEATED_KEY = 905

    @property
    def meaning(self) -> str:
        """What the code means, in Russian."""
        return _MEANINGS[self]

    @property
    def level(self) -> Level:
        """``package`` (801–808), ``file`` (901–903) or ``record`` (904–905)."""
        if self < 900:
            return "package"
        return "file" if self <= 903 else "record"


_MEANINGS = {
    Code.NOT_A_ZIP: "пакет не является ZIP-архивом или не читается",
    Code.BAD_NAME: "неверное имя пакета или файла",
    Code.FILE_SET: "нет обязательного файла или есть лишний файл",
    Code.UNSAFE: "небезопасное содержимое пакета или превышены пределы размера",
    Code.DUPLICATE: "пакет уже получен",
    Code.SENDER: "отправитель не совпадает с участником или участник неизвестен",
    Code.UNSUPPORTED: "вид или версия не поддерживаются для этого участника",
    Code.WRONG_KIND: "вид в субъекте не соответствует типу файла",
    Code.STRUCTURE: "неверный порядок элементов или нет обязательного элемента",
    Code.EMPTY: "обязательный элемент пуст",
    Code.FORMAT: "неверный тип, длина или шаблон значения",
    Code.DIRECTORY: "значения нет в справочнике",
    Code.REPEATED_KEY: "ключ повторяется в файле",
}


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _cut(text: str, limit: int, tail: str = "") -> str:
    return text if len(text) <= limit else text[: limit - len(tail)] + tail


@dataclass(frozen=True)
class Problem:
    """One ``PR`` line. Texts are cleaned and cut to the protocol's lengths on creation."""

    oshib: str
    comment: str
    im_pol: str = ""
    bas_el: str = ""
    n_zap: str | None = None
    idcase: str | None = None
    sl_id: str | None = None
    idserv: str | None = None
    id_pac: str | None = None
    zn_pol: str | None = None

    def __post_init__(self) -> None:
        if not _OSHIB.fullmatch(self.oshib):
            raise ValueError(f"OSHIB must be a 3-digit code or a rule id, got {self.oshib!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and f.name != "oshib":
                limit, tail = (MAX_COMMENT, "…") if f.name == "comment" else (MAX_VALUE, "")
                object.__setattr__(self, f.name, _cut(_clean(value), limit, tail))

    @classmethod
    def of(cls, code: Code, comment: str, im_pol: str = "", bas_el: str = "") -> Problem:
        """A problem with a numeric code (package and file levels need no keys)."""
        return cls(str(int(code)), comment, im_pol, bas_el)

    @property
    def refuses_record(self) -> bool:
        """BAS_EL filled means the record is refused (§5)."""
        return bool(self.bas_el)


@dataclass
class Protocol:
    """An FLK protocol for the package whose base name is ``fname_i``."""

    fname_i: str
    result: Result
    n_acc: int = 0
    n_rej: int = 0
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fname_i = _clean(self.fname_i)
        if self.result not in ("A", "P", "R"):
            raise ValueError(f"RESULT must be A, P or R, got {self.result!r}")
        if self.n_acc < 0 or self.n_rej < 0:
            raise ValueError("N_ACC and N_REJ cannot be negative")

    @property
    def fname(self) -> str:
        """``V`` + the checked package's base name."""
        return "V" + self.fname_i

    @classmethod
    def rejected(cls, fname_i: str, problem: Problem) -> Protocol:
        """The whole package refused by one package- or file-level problem."""
        return cls(fname_i, "R", 0, 0, [problem])

    @classmethod
    def decide(
        cls,
        fname_i: str,
        n_acc: int,
        n_rej: int,
        problems: list[Problem],
        file_rejected: bool = False,
    ) -> Protocol:
        """RESULT from the counts: R when the file is rejected or no record remains, P
        when some records were refused, A otherwise (an empty, clean file is A)."""
        if file_rejected:
            return cls(fname_i, "R", 0, n_acc + n_rej, list(problems))
        if n_rej > 0:
            return cls(fname_i, "R" if n_acc == 0 else "P", n_acc, n_rej, list(problems))
        return cls(fname_i, "A", n_acc, n_rej, list(problems))


def problem_of(exc: PackageRejected) -> Problem:
    """The :class:`Problem` a ``PackageRejected`` carries."""
    if not isinstance(exc.problem, Problem):
        raise TypeError(f"PackageRejected carries {type(exc.problem).__name__}, not a Problem")
    return exc.problem


def reason_of(problem: Problem) -> str:
    """Why a record was refused, as stored for claims: the rule id, or the code.

    A directory check (OSHIB 904) names its rule as the first word of COMMENT (§5).
    """
    if problem.oshib == str(int(Code.DIRECTORY)):
        first = problem.comment.split(" ", 1)[0]
        if _OSHIB.fullmatch(first):
            return first
    return problem.oshib


def protocol_file_name(package_base: str) -> str:
    """``V<base>.xml``: the protocol's file name (and ``Oms-File-Name`` header)."""
    return f"V{package_base}.xml"


def render_protocol(p: Protocol, encoding: str = "utf-8") -> bytes:
    """``FLK_P`` as bytes with an XML declaration; ``utf-8`` or ``windows-1251``.

    Characters that windows-1251 cannot hold are written as character references.
    """
    xml_encoding = _ENCODINGS.get(encoding.lower())
    if xml_encoding is None:
        raise ValueError(f"protocol encoding must be utf-8 or windows-1251, got {encoding!r}")
    root = etree.Element("FLK_P")
    for tag, text in (
        ("FNAME", p.fname),
        ("FNAME_I", p.fname_i),
        ("RESULT", p.result),
        ("N_ACC", str(p.n_acc)),
        ("N_REJ", str(p.n_rej)),
    ):
        _sub(root, tag, text)
    for problem in p.problems:
        pr = _sub(root, "PR", None)
        _sub(pr, "OSHIB", problem.oshib)
        _sub(pr, "IM_POL", problem.im_pol)
        _sub(pr, "BAS_EL", problem.bas_el)
        for key in _KEYS:
            if (value := getattr(problem, key)) is not None:
                _sub(pr, key.upper(), value)
        _sub(pr, "COMMENT", problem.comment)
    data = etree.tostring(root, xml_declaration=True, encoding=xml_encoding, pretty_print=True)
    return cast(bytes, data)


def parse_protocol(data: bytes) -> Protocol:
    """Read a protocol written by :func:`render_protocol` (validated against flk_p.xsd)."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ContractError(f"протокол не читается как XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise ContractError("протокол не может содержать DOCTYPE")
    schema = _schema()
    if not schema.validate(root):
        raise ContractError(f"протокол не соответствует flk_p.xsd: {schema.error_log.last_error}")
    if _text(root, "FNAME") != "V" + _text(root, "FNAME_I"):
        raise ContractError("FNAME протокола не равно V + FNAME_I")
    try:
        return Protocol(
            fname_i=_text(root, "FNAME_I"),
            result=cast(Result, _text(root, "RESULT")),
            n_acc=int(_text(root, "N_ACC")),
            n_rej=int(_text(root, "N_REJ")),
            problems=[_problem(pr) for pr in root.iterfind("PR")],
        )
    except ValueError as exc:
        raise ContractError(f"протокол содержит неверные значения: {exc}") from exc


@cache
def _schema() -> Any:
    return compile_schema(etree.parse(str(SCHEMA_PATH)))


def _sub(parent: Any, tag: str, text: str | None) -> Any:
    element = etree.SubElement(parent, tag)
    element.text = text
    return element


def _text(element: Any, tag: str) -> str:
    return cast(str, element.findtext(tag) or "")


def _problem(pr: Any) -> Problem:
    keys = {key: pr.findtext(key.upper()) for key in _KEYS}
    return Problem(
        oshib=_text(pr, "OSHIB"),
        comment=_text(pr, "COMMENT"),
        im_pol=_text(pr, "IM_POL"),
        bas_el=_text(pr, "BAS_EL"),
        **keys,
    )
