"""Reading a file that passed FLK, record by record, for the appliers.

    reader = RecordReader(stream, record_tags={"ZAP"})
    for position, elem in reader:          # 1-based, in file order
        record = to_record(elem)
    reader.header                          # {"ZGLV": {...}, "SCHET": {...}}
    reader.head_elements                   # the header elements themselves (for re-packing)

Memory stays flat: each record is dropped from the tree once the caller moves on. The
file is trusted to be well-formed and valid (FLK said so); the parser still refuses
entities, DTDs and the network, as every parser in omsx does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

from contracts.records import Record, to_record

HEADER_TAGS = ("ZGLV", "SCHET")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9_.-]+)["']""")


def declared_encoding(head: bytes) -> str:
    """The encoding of the XML declaration at the start of ``head`` (UTF-8 when none)."""
    if head.startswith(b"<?xml"):
        end = head.find(b"?>")
        match = _ENCODING.search(head[: end if end > 0 else len(head)])
        if match:
            return match.group(1).decode("ascii").lower()
    return "utf-8"


class RecordReader:
    """Iterates ``(position, element)`` over the records directly under the root."""

    def __init__(self, source: IO[bytes], record_tags: frozenset[str] | set[str]) -> None:
        self.source = source
        self.record_tags = frozenset(record_tags)
        self.header: dict[str, Record] = {}
        self.head_elements: dict[str, Any] = {}
        self.root_tag: str | None = None
        self.records = 0

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        tags = sorted(self.record_tags | set(HEADER_TAGS))
        context = etree.iterparse(
            self.source,
            events=("end",),
            tag=tags,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
        )
        for _event, elem in context:
            parent = elem.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # the root itself, or a nested element sharing a watched tag
            self.root_tag = parent.tag
            if elem.tag in HEADER_TAGS:
                self.header[elem.tag] = to_record(elem)
                self.head_elements[elem.tag] = elem
                continue
            self.records += 1
            yield self.records, elem
            parent.remove(elem)
