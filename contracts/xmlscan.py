"""XML safety and record counting for one member, in one streaming pass.

Fed chunk by chunk (so it shares the pass that guards the archive), the scanner:

1. keeps the bytes before the root start tag and judges them without parsing: a
   DOCTYPE, an ENTITY or any other ``<!`` declaration, or a processing instruction
   after the XML declaration is 804; a declared encoding other than windows-1251
   or UTF-8 (absent = UTF-8; UTF-16/32 included) is 807 — the contract's "unsupported
   format", chosen over 802 (names) and 903 (element values);
2. then parses with lxml (no entity resolution, no network, no DTD, no huge trees):
   a namespace of XInclude anywhere is 804, malformed XML is 901 with lxml's message
   (positions and tag names only);
3. counts the elements directly under the root, by local name, dropping each (and
   its subtree) as it ends, so memory stays constant.

The first problem is kept in :attr:`XmlScan.problem`; the rest of the input is
ignored. Which code wins between members is the caller's order, not the scanner's.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from contracts.archive import CHUNK, rejection, unsafe
from contracts.protocol import Code, Problem, problem_of
from omsx.errors import PackageRejected

ENCODINGS = frozenset({"utf-8", "windows-1251"})
XINCLUDE_NAMESPACES = frozenset(
    {"http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"}
)
MAX_PROLOG = CHUNK
_SPACE = b" \t\r\n"
_DECL = re.compile(rb"<\?xml[ \t\r\n?]")
_ENCODING = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*["']([^"']*)["']""")
_LOOKAHEAD = len(b"<!DOCTYPE")
_LONGEST_URI = max(len(uri) for uri in XINCLUDE_NAMESPACES)


@dataclass
class XmlScan:
    """What one pass learnt about a member."""

    problem: Problem | None = None
    root: str | None = None
    children: Counter[str] = field(default_factory=Counter)

    def records(self, tags: Iterable[str]) -> int:
        """How many elements directly under the root have one of ``tags``."""
        return sum(self.children[tag] for tag in tags)


class XmlScanner:
    """``feed`` the member's bytes in order, then ``close`` for the :class:`XmlScan`."""

    def __init__(self, member: str, *, parse: bool = True) -> None:
        self.member = member
        self.scan = XmlScan()
        self.parse = parse
        self._head = b""
        self._parser: Any = None
        self._judged = False
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes of the member."""
        self._step(chunk, final=False)

    def close(self) -> XmlScan:
        """End of the member: finish parsing and return what was found."""
        self._step(b"", final=True)
        return self.scan

    def _step(self, chunk: bytes, *, final: bool) -> None:
        if self.scan.problem is not None:
            return
        try:
            if not self._judged:
                self._head += chunk
                if not judge_prolog(self._head, self.member, final=final):
                    return
                self._judged = True
                chunk, self._head = self._head, b""
                if self.parse:
                    self._parser = _new_parser()
            if not self.parse:
                self._search_xinclude(chunk)
                return
            if chunk:
                self._parser.feed(chunk)
            if final:
                self._parser.close()
            self._drain()
        except PackageRejected as exc:
            self.scan.problem = problem_of(exc)
        except etree.XMLSyntaxError as exc:
            self.scan.problem = Problem.of(
                Code.STRUCTURE,
                f"файл «{self.member}» не является корректным XML: {_syntax_message(exc)}",
                self.member,
            )

    def _search_xinclude(self, chunk: bytes) -> None:
        """Without a parse: the XInclude namespace URIs as bytes (a chunk's edge included)."""
        window = self._tail + chunk
        if any(uri.encode() in window for uri in XINCLUDE_NAMESPACES):
            raise unsafe(f"XInclude в файле «{self.member}» запрещён", self.member)
        self._tail = window[-_LONGEST_URI:]

    def _drain(self) -> None:
        for event, item in self._parser.read_events():
            if event == "end":
                self._end(item)
            elif item[1] in XINCLUDE_NAMESPACES:  # start-ns: (prefix, uri)
                raise unsafe(f"XInclude в файле «{self.member}» запрещён", self.member)

    def _end(self, element: Any) -> None:
        """Count and drop each child of the root as it ends (deeper ones go with it)."""
        parent = element.getparent()
        if parent is None:
            self.scan.root = _local(element.tag)
        elif parent.getparent() is None:
            self.scan.children[_local(element.tag)] += 1
            element.clear()
            while element.getprevious() is not None:
                del parent[0]


def judge_prolog(head: bytes, member: str, *, final: bool) -> bool:
    """Judge the bytes before the root start tag: True once safe, False when more are needed.

    Raises ``PackageRejected`` (804 for declarations and processing instructions,
    807 for an unsupported encoding).
    """
    if len(head) < 4 and not final:
        return False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head[:4]:
        raise _unsupported_encoding("UTF-16/UTF-32", member)
    pos = _after_declaration(head, member)
    if pos is None:
        return _more(head, member, final=final)
    while True:
        while pos < len(head) and head[pos] in _SPACE:
            pos += 1
        ahead = head[pos : pos + _LOOKAHEAD]
        if len(ahead) < _LOOKAHEAD and not final:
            return _more(head, member, final=final)
        if ahead.startswith(b"<!--"):
            end = head.find(b"-->", pos + 4)
            if end < 0:
                return _more(head, member, final=final)
            pos = end + 3
        elif _DECL.match(ahead):
            return True  # a misplaced XML declaration: malformed, the parser says so (901)
        elif ahead.startswith(b"<?"):
            raise unsafe(f"инструкция обработки в прологе файла «{member}» запрещена", member)
        elif ahead.startswith(b"<!"):
            what = next(
                (w for w in ("DOCTYPE", "ENTITY") if ahead[2:].startswith(w.encode())), "<!"
            )
            raise unsafe(f"объявление {what} в файле «{member}» запрещено", member)
        else:
            return True  # the root start tag (or text the parser will refuse)


def _after_declaration(head: bytes, member: str) -> int | None:
    """Where the prolog continues after the BOM and XML declaration (None: need more bytes)."""
    pos = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    if not _DECL.match(head, pos):
        return pos
    end = head.find(b"?>", pos)
    if end < 0:
        return None
    _check_encoding(head[pos:end], member)
    return end + 2


def _more(head: bytes, member: str, *, final: bool) -> bool:
    if final:
        return True  # nothing more will come: the parser reports what is wrong
    if len(head) > MAX_PROLOG:
        raise unsafe(f"пролог файла «{member}» длиннее {MAX_PROLOG} байт", member)
    return False


def _check_encoding(declaration: bytes, member: str) -> None:
    match = _ENCODING.search(declaration)
    encoding = match.group(1).decode("ascii", "replace").lower() if match else "utf-8"
    if encoding not in ENCODINGS:
        raise _unsupported_encoding(encoding, member)


def _unsupported_encoding(encoding: str, member: str) -> PackageRejected:
    comment = (
        f"кодировка «{encoding}» файла «{member}» не поддерживается: нужна windows-1251 или UTF-8"
    )
    return rejection(Code.UNSUPPORTED, comment, member)


def _new_parser() -> Any:
    # The feed parser's exception may say only "no element found"; the first entry of
    # the (thread-local) error log has the cause, so the log starts empty per member.
    etree.clear_error_log()
    return etree.XMLPullParser(
        events=("end", "start-ns"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _syntax_message(exc: Any) -> str:
    """libxml2's first error with its position (tag and entity names, no values)."""
    for entry in exc.error_log:
        return f"{entry.message}, строка {entry.line}, позиция {entry.column}"
    return str(exc.msg or exc)


def _local(tag: Any) -> str:
    return str(tag).rpartition("}")[2]
