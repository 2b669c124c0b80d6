"""The hostile corpus: packages built to hurt the hub, each with the code it must get.

Every entry is a name, a function that builds the package's bytes (deterministically,
at test time: nothing large is committed), the file name and subject it is published
under, and the protocol code(s) of exchange.md §5 that the answer must carry. Most
start from the valid H + L register of :func:`tests.builders.register` and break one
thing. Payloads meant to reach the XML parser are built from seeded pseudo-random
bytes, so that they stay under the 200:1 ratio limit and are not simply refused as
zip bombs (which ``bomb-*`` entries are).

The unit tests of ``contracts.archive`` and ``contracts.xmlscan``
(tests/unit/contracts/test_contracts_package_*.py) check the same guards one by one on
``check_package``; here whole packages go through ``check_flk``, as the worker runs it.
:func:`answer`, at the end, checks one entry in a child process and measures its time
and peak memory (tests/hostile/test_hostile.py states the bounds).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import gzip
import io
import random
import resource
import struct
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from tests.builders import register

MAIN = "HM640001S64004_25111"
PERSONAL = "LM640001S64004_25111"
FILE_NAME = f"{MAIN}.zip"
SUBJECT = "oms.in.mo.640001.registry"
DECL = b'<?xml version="1.0" encoding="windows-1251"?>\n'
MiB = 1 << 20
GiB = 1 << 30
CPU_SECONDS = 30.0
"""Bound on the CPU time one entry's FLK takes (its process and the parallel path's)."""
SECONDS = 120.0
"""Bound on its wall time: only a hang detector, the machine is shared."""
PEAK_MB = 384
"""Bound on the peak resident memory of the process checking one entry (and of each
process of the parallel path)."""
ADDRESS_SPACE = 4 << 30
"""Hard ceiling (RLIMIT_AS) of that process: a breach fails the entry, not the machine."""


@dataclass(frozen=True)
class Hostile:
    """One hostile package and the answer it must get."""

    name: str
    build: Callable[[], bytes]
    codes: frozenset[str]
    """The protocol must be RESULT=R and carry one of these OSHIB codes."""
    why: str
    file_name: str = FILE_NAME
    subject: str = SUBJECT


# ---------------------------------------------------------------- building blocks


@cache
def valid() -> tuple[bytes, bytes]:
    """The generator's valid register: (main file, L-file) as windows-1251 XML."""
    _name, data = register(MAIN)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(f"{MAIN}.xml"), zf.read(f"{PERSONAL}.xml")


def main_xml() -> bytes:
    return valid()[0]


def personal_xml() -> bytes:
    return valid()[1]


def body(xml: bytes) -> bytes:
    """The document without its XML declaration."""
    return xml.split(b"?>", 1)[1]


def package(
    main: bytes | None = None,
    personal: bytes | None = None,
    extra: Iterable[tuple[str | zipfile.ZipInfo, bytes]] = (),
    method: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """The valid register's ZIP with its files swapped and ``extra`` members added."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as zf:
        zf.writestr(f"{MAIN}.xml", main_xml() if main is None else main)
        zf.writestr(f"{PERSONAL}.xml", personal_xml() if personal is None else personal)
        for name, data in extra:
            zf.writestr(name, data)
    return buffer.getvalue()


def edit_main(old: bytes, new: bytes) -> bytes:
    """The valid package with the first ``old`` of the main file replaced by ``new``."""
    xml = main_xml()
    assert old in xml, old
    return package(main=xml.replace(old, new, 1))


def filler(
    size: int, seed: int = 1, alphabet: bytes = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
) -> bytes:
    """``size`` bytes of letters that deflate at about 80:1 (under the 200:1 limit): an
    8 KiB random block, repeated."""
    rnd = random.Random(seed)
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    block = rnd.randbytes(8192).translate(table)
    return (block * (size // len(block) + 1))[:size]


def tag_names(count: int, seed: int, length: int = 3) -> list[bytes]:
    """``count`` random lower-case element names (random enough to defeat deflate)."""
    rnd = random.Random(seed)
    letters = b"abcdefghijklmnopqrstuvwxyz"
    return [bytes(rnd.choices(letters, k=length)) for _ in range(count)]


def nested(depth: int, seed: int) -> bytes:
    names = tag_names(depth, seed)
    return b"".join(b"<%s>" % n for n in names) + b"".join(b"</%s>" % n for n in reversed(names))


def empty_elements(count: int, seed: int) -> bytes:
    names = tag_names(4096, seed, length=2)
    return b"".join(b"<%s/>" % names[i % len(names)] for i in range(count))


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def deflated_zeros(size: int, block: int = MiB) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes and its CRC, without deflating them all:
    one fully flushed block is byte-aligned and history-free, so it can be repeated."""
    assert size % block == 0
    zero = bytes(block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(zero) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // block):
        crc = zlib.crc32(zero, crc)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return piece * (size // block) + final, crc


@dataclass(frozen=True)
class Raw:
    """A member written by hand: the headers say whatever the test wants."""

    name: bytes
    data: bytes  # as stored (already compressed for DEFLATED)
    crc: int
    size: int  # the uncompressed size the headers declare
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0
    external: int = 0
    version: int = 20  # the ZIP version needed to extract it, times ten
    share: int | None = None  # index of an earlier member whose local header and data it points to


def raw(name: str | bytes, data: bytes, **fields: int) -> Raw:
    """A deflated member with honest headers (unless ``fields`` say otherwise)."""
    encoded = name.encode() if isinstance(name, str) else name
    values = {"crc": zlib.crc32(data), "size": len(data), **fields}
    return Raw(encoded, deflate(data), **values)


def raw_zip(members: list[Raw]) -> bytes:
    """Local headers and data, the central directory, the end record: nothing checked."""
    out = bytearray()
    offsets: list[int] = []
    for m in members:
        if m.share is not None:
            offsets.append(offsets[m.share])
            continue
        offsets.append(len(out))
        out += struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            m.version,
            m.flags,
            m.method,
            0,
            0x21,
            m.crc,
            len(m.data),
            m.size,
            len(m.name),
            0,
        )
        out += m.name + m.data
    central = bytearray()
    for m, offset in zip(members, offsets, strict=True):
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            0x031E,
            m.version,
            m.flags,
            m.method,
            0,
            0x21,
            m.crc,
            len(m.data),
            m.size,
            len(m.name),
            0,
            0,
            0,
            0,
            m.external,
            offset,
        )
        central += m.name
    count = min(len(members), 0xFFFF)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(out), 0)
    return bytes(out + central + end)


def valid_raw() -> list[Raw]:
    return [raw(f"{MAIN}.xml", main_xml()), raw(f"{PERSONAL}.xml", personal_xml())]


def central_offset(data: bytes) -> int:
    """Where the central directory starts (an archive without a comment)."""
    return int(struct.unpack("<I", data[-6:-2])[0])


# ---------------------------------------------------------------- the archive


def truncated_half() -> bytes:
    data = package()
    return data[: len(data) // 2]


def truncated_before_central_directory() -> bytes:
    data = package()
    return data[: central_offset(data)]


def truncated_end_record() -> bytes:
    return package()[:-10]


def crc_mismatch() -> bytes:
    data = bytearray(package(method=zipfile.ZIP_STORED))
    at = data.index(b"<SUMMAV>") + len(b"<SUMMAV>")
    data[at] = ord("9") if data[at] != ord("9") else ord("8")
    return bytes(data)


def size_overstated() -> bytes:
    first, second = valid_raw()
    return raw_zip([Raw(**{**first.__dict__, "size": first.size + 20_000}), second])


def size_understated() -> bytes:
    zeros = bytes(5 * MiB)
    return raw_zip([raw(f"{MAIN}.xml", zeros, size=1000), valid_raw()[1]])


def bomb_of_zeros(size: int) -> Callable[[], bytes]:
    """The main file is ``size`` zero bytes, really deflated (1 MiB of them per KiB)."""

    def build() -> bytes:
        data, crc = deflated_zeros(size)
        return raw_zip([Raw(f"{MAIN}.xml".encode(), data, crc, size), valid_raw()[1]])

    return build


def bomb_declared_size() -> bytes:
    first, second = valid_raw()
    return raw_zip([Raw(**{**m.__dict__, "size": 0x7FFFFFFF}) for m in (first, second)])


def bomb_overlapping() -> bytes:
    """David Fifield's "better zip bomb", flat: 120 central entries share one 8 MiB
    kernel. Each member is ~80:1; the package is ~10,000:1."""
    kernel = raw(f"{MAIN}.xml", DECL + b"<ZL_LIST><X>" + filler(8 * MiB) + b"</X></ZL_LIST>")
    copies = [Raw(**{**kernel.__dict__, "share": 0}) for _ in range(119)]
    return raw_zip([kernel, *copies, valid_raw()[1]])


def bomb_nested() -> bytes:
    """42.zip in miniature: the main file is a ZIP of ZIPs of zeros."""
    inner = raw_zip([Raw(b"0.xml", *deflated_zeros(64 * MiB), 64 * MiB)])
    outer = raw_zip([raw(f"{i}.zip", inner) for i in range(8)])
    return package(main=outer)


def nested_by_name() -> bytes:
    return package(extra=[("inner.zip", package())])


def nested_gzip_by_content() -> bytes:
    return package(personal=gzip.compress(personal_xml(), mtime=0))


def member_named(name: str) -> Callable[[], bytes]:
    return lambda: package(extra=[(name, b"<a/>")])


def symlink_member() -> bytes:
    info = zipfile.ZipInfo("passwd.xml")
    info.external_attr = 0o120777 << 16
    return package(extra=[(info, b"/etc/passwd")])


def directory_member() -> bytes:
    return package(extra=[(zipfile.ZipInfo("docs/"), b"")])


def with_second(**fields: int) -> Callable[[], bytes]:
    """The valid register written by hand, its L-file's headers changed."""

    def build() -> bytes:
        first, second = valid_raw()
        return raw_zip([first, Raw(**{**second.__dict__, **fields})])

    return build


def name_invalid_utf8() -> bytes:
    first, second = valid_raw()
    return raw_zip([first, second, raw(b"\xff\xfe\xfd.xml", b"<a/>", flags=0x800)])


def name_nul_suffix() -> bytes:
    """Names that end after a NUL for Python's zipfile but not for the ZIP format."""
    first, second = valid_raw()
    return raw_zip(
        [
            Raw(**{**first.__dict__, "name": first.name + b"\x00../../evil.sh"}),
            second,
        ]
    )


def many_members() -> bytes:
    """200,000 empty members: a 10 MB central directory."""
    junk = [Raw(b"%d" % i, b"", 0, 0, method=zipfile.ZIP_STORED) for i in range(200_000)]
    return raw_zip([*valid_raw(), *junk])


def duplicate_member() -> bytes:
    first, second = valid_raw()
    return raw_zip([first, second, first])


def oversized_package() -> bytes:
    return b"PK\x03\x04" + bytes(64 * MiB)


# ---------------------------------------------------------------- the XML


def _laughs() -> bytes:
    lines = [b"<!DOCTYPE ZL_LIST [", b' <!ENTITY lol "lol">']
    previous = b"lol"
    for level in range(1, 10):
        lines.append(b' <!ENTITY lol%d "%s">' % (level, b"&%s;" % previous * 10))
        previous = b"lol%d" % level
    return b"\n".join([*lines, b"]>", b""])


BILLION_LAUGHS = _laughs()
"""Ten entities, each ten of the one before: &lol9; is 10^9 "lol"s."""


def with_prolog(prolog: bytes, comment_ref: bytes = b"") -> bytes:
    xml = body(main_xml())
    if comment_ref:
        xml = xml.replace(b"<COMENTS>", b"<COMENTS>" + comment_ref, 1)
    return package(main=DECL + prolog + xml)


def quadratic_blowup() -> bytes:
    entity = b'<!DOCTYPE ZL_LIST [<!ENTITY a "' + filler(100_000) + b'">]>\n'
    return with_prolog(entity, b"&a;" * 50_000)


def xinclude_across_chunks() -> bytes:
    """The XInclude namespace URI straddles the 1 MiB boundary of the guarded reads."""
    xml = body(main_xml())
    uri = b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>'
    head = DECL + b"<!---->"
    at = xml.index(b"<ZAP>")
    pad = MiB - len(head) - at - len(b'<xi:include xmlns:xi="') - 10
    comment = b"<!--" + filler(pad - 7) + b"-->"
    return package(main=head + xml[:at] + comment + uri + xml[at:])


def long_comment_then(prolog: bytes, size: int) -> bytes:
    return package(main=DECL + b"<!--" + filler(size) + b"-->\n" + prolog + body(main_xml()))


def declared(encoding: bytes) -> bytes:
    return package(main=main_xml().replace(b"windows-1251", encoding, 1))


def utf16() -> bytes:
    text = main_xml().decode("cp1251").replace("windows-1251", "UTF-16", 1)
    return package(main=text.encode("utf-16"))


def mixed_encodings() -> bytes:
    """A windows-1251 file whose comment came in UTF-8 ("И" is D0 98: 0x98 is no
    windows-1251 character)."""
    return edit_main(b"<COMENTS>", "<COMENTS>ИВАНОВ ".encode())


def invalid_utf8() -> bytes:
    xml = main_xml().decode("cp1251").replace("windows-1251", "utf-8", 1).encode()
    return package(main=xml.replace(b"<COMENTS>", b"<COMENTS>\xff\xfe\xc0\xaf", 1))


def deep(where: bytes, seed: int, *, personal: bool = False) -> bytes:
    xml = personal_xml() if personal else main_xml()
    assert where in xml
    xml = xml.replace(where, where + nested(100_000, seed), 1)
    return package(personal=xml) if personal else package(main=xml)


def attributes(count: int, where: bytes) -> bytes:
    attrs = b" ".join(b"a%d='%d'" % (i, i % 7) for i in range(count))
    return edit_main(where, where[:-1] + b" " + attrs + b">")


def namespace_declarations(count: int) -> bytes:
    decls = b" ".join(b"xmlns:n%d='urn:n%d'" % (i, i) for i in range(count))
    return edit_main(b"<ZL_LIST>", b"<ZL_LIST " + decls + b">")


def junk_interleaved() -> bytes:
    names = tag_names(4096, 7, length=2)
    flood = b"".join(b"<ZAP></ZAP><%s/>" % names[i % len(names)] for i in range(200_000))
    return edit_main(b"</ZL_LIST>", flood + b"</ZL_LIST>")


def invalid_record_flood(count: int) -> Callable[[], bytes]:
    """``count`` tiny invalid records (each costs ~200 µs to check and report in full)."""

    def build() -> bytes:
        rnd = random.Random(11)
        zaps = (b"<ZAP><N_ZAP>%d</N_ZAP></ZAP>" % rnd.randrange(10**9) for _ in range(count))
        return edit_main(b"</ZL_LIST>", b"".join(zaps) + b"</ZL_LIST>")

    return build


def text_node(where: bytes, size: int, *, cdata: bool = False) -> bytes:
    text = filler(size, seed=5)
    return edit_main(where, where + (b"<![CDATA[" + text + b"]]>" if cdata else text))


# ---------------------------------------------------------------- the corpus


def _entries() -> list[Hostile]:
    c801, c802, c803, c804, c807, c901, c903 = (
        frozenset({code}) for code in ("801", "802", "803", "804", "807", "901", "903")
    )
    h = Hostile
    return [
        # the archive
        h("not-a-zip", lambda: b"This is not a ZIP archive.\n" * 10, c801, "text"),
        h("empty-file", lambda: b"", c801, "zero bytes"),
        h(
            "zip-magic-then-garbage",
            lambda: b"PK\x03\x04" + filler(4096),
            c801,
            "a local header magic only",
        ),
        h("truncated-half", truncated_half, c801, "cut in the middle"),
        h(
            "truncated-before-central-directory",
            truncated_before_central_directory,
            c801,
            "local entries only",
        ),
        h("truncated-end-record", truncated_end_record, c801, "the end record cut"),
        h("crc-mismatch", crc_mismatch, c801, "a stored member with one byte changed"),
        h(
            "unsupported-method-lzma",
            lambda: package(method=zipfile.ZIP_LZMA),
            c801,
            "LZMA members",
        ),
        h("size-overstated", size_overstated, c801, "the header claims 20 KB more than the data"),
        h("size-understated", size_understated, c801, "5 MiB of zeros declared as 1000 bytes"),
        h("bomb-ratio", bomb_of_zeros(512 * MiB), c804, "512 MiB of zeros in 512 KiB (1000:1)"),
        h("bomb-absolute", bomb_of_zeros(2 * GiB), c804, "2 GiB of zeros: over the 1 GiB total"),
        h("bomb-declared-size", bomb_declared_size, c804, "headers declare 4 GiB in all"),
        h(
            "bomb-overlapping",
            bomb_overlapping,
            c804,
            "120 entries share one kernel: 960 MiB from 100 KB",
        ),
        h("bomb-nested", bomb_nested, c804, "the main file is a ZIP of ZIPs of zeros"),
        h("nested-archive-by-name", nested_by_name, c804, "an extra inner.zip"),
        h("nested-gzip-by-content", nested_gzip_by_content, c804, "the L-file is gzip"),
        h(
            "member-traversal",
            member_named("../../../../tmp/evil.xml"),
            c804,
            "../ in a member name",
        ),
        h(
            "member-absolute-path",
            member_named("/etc/cron.d/evil"),
            c804,
            "an absolute member name",
        ),
        h("member-windows-drive", member_named("C:\\Windows\\evil.xml"), c804, "a drive letter"),
        h("member-symlink", symlink_member, c804, "a symbolic link member"),
        h("member-directory", directory_member, c804, "a directory entry"),
        h("member-encrypted", with_second(flags=0x1), c804, "the L-file flagged encrypted"),
        h(
            "member-strong-encryption",
            with_second(flags=0x40),
            c804,
            "the L-file flagged strongly encrypted (bit 6 alone)",
        ),
        h("member-patched-data", with_second(flags=0x20), c801, "flag bit 5: patched data"),
        h("member-zip-version-6.4", with_second(version=64), c801, "a ZIP version after 6.3"),
        h("member-name-invalid-utf8", name_invalid_utf8, c801, "a name flagged UTF-8 that is not"),
        h(
            "member-name-control-chars",
            member_named("\x1b[31mred\x07.xml"),
            c804,
            "ESC and BEL in a name",
        ),
        h(
            "member-name-nul-suffix",
            name_nul_suffix,
            c804,
            "the main file's name goes on after a NUL",
        ),
        h("many-members", many_members, c804, "200,000 members: a 10 MB central directory"),
        h("duplicate-member", duplicate_member, c803, "the main file twice"),
        h("package-over-64mib", oversized_package, c804, "64 MiB + 4 bytes"),
        # the package's name
        h(
            "name-traversal",
            package,
            c802,
            "../ in the package name",
            file_name=f"../../{FILE_NAME}",
        ),
        h(
            "name-control-chars",
            package,
            c802,
            "ESC in the package name",
            file_name=f"{MAIN}\x1b[2J.zip",
        ),
        h(
            "name-invalid-utf8",
            package,
            c802,
            "a name header that was not UTF-8 (surrogate escapes)",
            file_name=f"{MAIN}\udcff.zip",
        ),
        h(
            "name-100k-chars",
            package,
            c802,
            "a 100,000-character name",
            file_name="H" * 100_000 + ".zip",
        ),
        # DTDs, entities, external references
        h(
            "xxe-external-entity",
            lambda: with_prolog(
                b'<!DOCTYPE ZL_LIST [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n', b"&x;"
            ),
            c804,
            "XXE reading a local file",
        ),
        h(
            "xxe-parameter-entity",
            lambda: with_prolog(
                b'<!DOCTYPE ZL_LIST [<!ENTITY % r SYSTEM "http://127.0.0.1:9/x.dtd"> %r;]>\n'
            ),
            c804,
            "out-of-band XXE through a parameter entity",
        ),
        h("billion-laughs", lambda: with_prolog(BILLION_LAUGHS, b"&lol9;"), c804, "10^9 lols"),
        h("quadratic-blowup", quadratic_blowup, c804, "a 100 KB entity referenced 50,000 times"),
        h(
            "external-dtd",
            lambda: with_prolog(
                b'<!DOCTYPE ZL_LIST PUBLIC "-//X//EN" "http://127.0.0.1:9/x.dtd">\n'
            ),
            c804,
            "an external DTD",
        ),
        h(
            "xinclude",
            lambda: edit_main(
                b"<ZL_LIST>",
                b'<ZL_LIST xmlns:xi="http://www.w3.org/2001/XInclude">'
                b'<xi:include href="file:///etc/passwd" parse="text"/>',
            ),
            c804,
            "XInclude of a local file",
        ),
        h(
            "xinclude-across-chunks",
            xinclude_across_chunks,
            c804,
            "the XInclude URI across a 1 MiB read",
        ),
        h(
            "doctype-after-long-comment",
            lambda: long_comment_then(BILLION_LAUGHS, 500_000),
            c804,
            "a DOCTYPE behind a 500 KB prolog comment",
        ),
        h("prolog-over-limit", lambda: long_comment_then(b"", 2 * MiB), c804, "a 2 MiB prolog"),
        h(
            "doctype-in-l-file",
            lambda: package(personal=DECL + BILLION_LAUGHS + body(personal_xml())),
            c804,
            "billion laughs in the L-file",
        ),
        h(
            "entity-without-dtd",
            lambda: edit_main(b"<COMENTS>", b"<COMENTS>&lol9;"),
            c901,
            "an undefined entity",
        ),
        # encodings and characters
        h("encoding-koi8-r", lambda: declared(b"KOI8-R"), c807, "declared KOI8-R"),
        h("encoding-utf-16", utf16, c807, "UTF-16 with a BOM"),
        h("encoding-ebcdic", lambda: declared(b"IBM037"), c807, "declared EBCDIC"),
        h(
            "encoding-utf8-declared-cp1251-bytes",
            lambda: declared(b"UTF-8"),
            c901,
            "windows-1251 bytes under a UTF-8 declaration",
        ),
        h("encoding-mixed", mixed_encodings, c901, "UTF-8 text inside a windows-1251 file"),
        h("invalid-utf8", invalid_utf8, c901, "overlong and invalid UTF-8 sequences"),
        h(
            "control-chars-raw",
            lambda: edit_main(b"<COMENTS>", b"<COMENTS>\x01\x02\x1b"),
            c901,
            "raw C0 controls",
        ),
        h(
            "control-chars-refs",
            lambda: edit_main(b"<COMENTS>", b"<COMENTS>&#x1;&#x1B;"),
            c901,
            "C0 character references",
        ),
        h(
            "nul-bytes",
            lambda: edit_main(b"<COMENTS>", b"<COMENTS>\x00" * 16),
            c901,
            "NUL bytes in text",
        ),
        h(
            "surrogate-reference",
            lambda: edit_main(b"<COMENTS>", b"<COMENTS>&#xD800;"),
            c901,
            "a lone surrogate",
        ),
        # nesting and size
        h("deep-nesting-record", lambda: deep(b"<PACIENT>", 1), c901, "100,000 levels in a ZAP"),
        h("deep-nesting-header", lambda: deep(b"<ZGLV>", 2), c901, "100,000 levels in ZGLV"),
        h(
            "deep-nesting-l-file",
            lambda: deep(b"<PERS>", 3, personal=True),
            c901,
            "100,000 levels in PERS",
        ),
        h(
            "text-node-50mb-header",
            lambda: text_node(b"<COMENTS>", 50 * MiB),
            c804,
            "a 50 MiB SCHET/COMENTS",
        ),
        h(
            "text-node-50mb-record",
            lambda: text_node(b"<NHISTORY>", 50 * MiB),
            c804,
            "a 50 MiB NHISTORY",
        ),
        h(
            "cdata-50mb-record",
            lambda: text_node(b"<NHISTORY>", 50 * MiB, cdata=True),
            c804,
            "a 50 MiB CDATA section",
        ),
        h(
            "attributes-300k-record",
            lambda: attributes(300_000, b"<ZAP>"),
            c903,
            "300,000 attributes on a ZAP",
        ),
        h(
            "attributes-1m-root",
            lambda: attributes(1_000_000, b"<ZL_LIST>"),
            c804,
            "1,000,000 attributes on the root",
        ),
        h(
            "namespace-declarations-100k",
            lambda: namespace_declarations(100_000),
            c804,
            "100,000 namespace declarations on the root",
        ),
        h(
            "wide-record",
            lambda: edit_main(b"<PR_NOV>", empty_elements(1_000_000, 4) + b"<PR_NOV>"),
            c804,
            "1,000,000 elements in one ZAP",
        ),
        h(
            "junk-after-records",
            lambda: edit_main(b"</ZL_LIST>", empty_elements(1_000_000, 5) + b"</ZL_LIST>"),
            c804,
            "1,000,000 unknown elements under the root",
        ),
        h("junk-interleaved", junk_interleaved, c901, "200,000 empty ZAP, each followed by junk"),
        h(
            "invalid-record-flood",
            invalid_record_flood(100_000),
            c901,
            "100,000 tiny invalid records",
        ),
        h(
            "invalid-record-flood-parallel",
            invalid_record_flood(600_000),
            c901,
            "600,000 tiny invalid records: 17 MB, the parallel path",
        ),
        h(
            "unknown-root",
            lambda: package(main=DECL + b"<FOO/>"),
            c901,
            "a root the format does not know",
        ),
        h(
            "default-namespace-root",
            lambda: edit_main(b"<ZL_LIST>", b'<ZL_LIST xmlns="urn:evil">'),
            c901,
            "the whole register in a namespace",
        ),
    ]


CORPUS: dict[str, Hostile] = {entry.name: entry for entry in _entries()}
"""The corpus by name."""


# ---------------------------------------------------------------- answering one entry


@dataclass(frozen=True)
class Answer:
    """What a child process saw when it checked one entry."""

    result: str
    codes: tuple[str, ...]
    first: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    pool_peak_mb: float
    protocol_bytes: int


def _peak_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb(reset: bool) -> float:
    if reset:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (the FLK pool)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _release_build_memory() -> None:
    gc.collect()
    # not glibc: the build's leftovers count towards the peak, harmlessly
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def answer(name: str, folder: str) -> Answer:
    """Build and check one entry (runs in a fresh child process)."""
    from admin.offline import environment
    from contracts.flk import check_flk
    from contracts.package import Subject
    from contracts.parallel import shutdown_pools
    from contracts.protocol import parse_protocol, render_protocol

    entry = CORPUS[name]
    path = Path(folder) / f"{name}.bin"
    path.write_bytes(entry.build())
    env = replace(environment("64", structure_only=False), workers=2)
    _release_build_memory()
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    reset = _peak_reset()
    cpu, started = _cpu_seconds(), time.perf_counter()
    result = check_flk(
        path, file_name=entry.file_name, subject=Subject.parse(entry.subject), env=env
    )
    seconds = time.perf_counter() - started
    shutdown_pools()  # waits for the pool's processes: their CPU time counts too
    cpu = _cpu_seconds() - cpu
    rendered = render_protocol(result.protocol)
    protocol = parse_protocol(rendered)
    path.unlink()
    return Answer(
        result=protocol.result,
        codes=tuple(p.oshib for p in protocol.problems),
        first=protocol.problems[0].comment if protocol.problems else "",
        seconds=seconds,
        cpu_seconds=cpu,
        peak_mb=_peak_mb(reset),
        pool_peak_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        protocol_bytes=len(rendered),
    )
