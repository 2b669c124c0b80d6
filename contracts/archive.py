"""ZIP safety (exchange.md §3, "ZIP packaging"): codes 801 and 804 for an archive.

Two lines of defence against zip bombs and lying headers:

0. :func:`open_archive` refuses a central directory over :data:`MAX_DIRECTORY_BYTES`
   before ``zipfile`` turns it into objects (200,000 empty members took 15 s and 200 MB).
1. :func:`check_members` judges the central directory: encrypted members, paths,
   directories, symlinks, nested archives by name, declared total size and ratio, per
   member and for the package (members may share their compressed data).
2. :class:`GuardedReader` counts the bytes actually decompressed and raises the
   moment a member outgrows its declared size, the total limit or the ratio (804),
   or ends short of its declared size (801).
   (CPython's ``zipfile`` never yields more than the declared size: an understated
   size shows up as a CRC failure, 801. The count is the guard either way.)

Only stored and deflated members are read; other methods (bzip2, lzma, deflate64)
are answered with 801 as an unreadable archive.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, BinaryIO

from contracts.protocol import Code, Problem
from omsx.errors import PackageRejected

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = MiB
"""Bytes read at a time from a member: memory stays constant whatever the size."""
MAX_DIRECTORY_BYTES = 64 * 1024
"""Largest central directory: a package has two members, this is room for a thousand."""

NESTED_SUFFIXES = (".zip", ".rar", ".7z", ".gz", ".tgz", ".tar", ".arj", ".bz2", ".xz", ".cab")
NESTED_MAGICS = (
    b"PK\x03\x04",  # zip
    b"PK\x05\x06",  # empty zip
    b"\x1f\x8b",  # gzip
    b"7z\xbc\xaf\x27\x1c",  # 7z
    b"Rar!\x1a\x07",  # rar
    b"\xfd7zXZ\x00",  # xz
    b"BZh",  # bzip2
)
_READABLE_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# NotImplementedError: zipfile's answer to a newer ZIP version or patched data (flag bit 5)
_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, ValueError, NotImplementedError)
_ENCRYPTED = 0x1 | 0x40  # flag bits 0 (encrypted) and 6 (strong encryption)
_DRIVE = re.compile(r"[A-Za-z]:")
_S_IFMT, _S_IFLNK = 0o170000, 0o120000
PACKAGE_FIELD = "Oms-File-Name"


@dataclass(frozen=True)
class Limits:
    """Package size limits (exchange.md §3; settings ``OMSX_MAX_*``)."""

    max_package_bytes: int = 64 * MiB
    max_uncompressed_bytes: int = GiB
    max_ratio: int = 200


def rejection(code: Code, comment: str, im_pol: str = PACKAGE_FIELD) -> PackageRejected:
    """A package-level rejection: one problem, BAS_EL empty, IM_POL naming the header,
    the subject or the member."""
    return PackageRejected(Problem.of(code, comment, im_pol))


def unsafe(comment: str, member: str = PACKAGE_FIELD) -> PackageRejected:
    """An 804 rejection naming the member (or the package)."""
    return rejection(Code.UNSAFE, comment, member)


def unreadable(comment: str, member: str = PACKAGE_FIELD) -> PackageRejected:
    """An 801 rejection naming the member (or the package)."""
    return rejection(Code.NOT_A_ZIP, comment, member)


def open_archive(fileobj: IO[bytes]) -> zipfile.ZipFile:
    """Open a ZIP for reading; anything that is not a readable ZIP is 801, a central
    directory over :data:`MAX_DIRECTORY_BYTES` is 804."""
    try:
        size = _directory_size(fileobj)
        if size > MAX_DIRECTORY_BYTES:
            raise unsafe(f"оглавление архива {size} байт больше предела {MAX_DIRECTORY_BYTES}")
        fileobj.seek(0)
        return zipfile.ZipFile(fileobj)
    except _BROKEN as exc:  # includes UnicodeDecodeError of a name flagged UTF-8
        raise unreadable("файл не является ZIP-архивом или архив повреждён") from exc


def _directory_size(fileobj: IO[bytes]) -> int:
    """The central directory's size as ``zipfile`` will read it (0 when there is no end
    record: ``zipfile`` then refuses the file itself)."""
    # zipfile's own reader of the end record (ZIP64 included), so both agree on the size
    end = zipfile._EndRecData(fileobj)  # type: ignore[attr-defined]  # private, stable since 2.x
    return int(end[zipfile._ECD_SIZE]) if end else 0  # type: ignore[attr-defined]


def check_members(
    zf: zipfile.ZipFile, limits: Limits, package_bytes: int | None = None
) -> list[zipfile.ZipInfo]:
    """Judge the central directory (801, 804) and return the members in order.

    ``package_bytes`` (the archive's size) adds the package's own ratio: members that
    point at the same compressed data (a "better zip bomb") pass each on their own."""
    infos = zf.infolist()
    for info in infos:
        if info.compress_type not in _READABLE_METHODS:
            raise unreadable(
                f"метод сжатия файла «{info.filename}» не поддерживается", info.filename
            )
    for info in infos:
        if (reason := _unsafe_member(info)) is not None:
            raise unsafe(reason, info.filename)
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise unsafe(
            f"распакованный объём {total} байт больше предела {limits.max_uncompressed_bytes}"
        )
    for info in infos:
        if info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise unsafe(
                f"степень сжатия файла «{info.filename}» больше {limits.max_ratio}:1", info.filename
            )
    if package_bytes is not None and total > limits.max_ratio * max(package_bytes, 1):
        raise unsafe(f"степень сжатия пакета больше {limits.max_ratio}:1")
    return infos


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    checks = (
        (info.flag_bits & _ENCRYPTED, f"файл «{name}» зашифрован"),
        (info.is_dir(), f"каталог «{name}» в архиве запрещён"),
        (_has_path(name), f"путь в имени файла «{name}» запрещён"),
        # orig_filename: zipfile cuts a name at its first NUL, the ZIP format does not
        (
            any(ord(c) < 0x20 or c == "\x7f" for c in info.orig_filename),
            "управляющие символы в имени файла",
        ),
        ((info.external_attr >> 16) & _S_IFMT == _S_IFLNK, f"символическая ссылка «{name}»"),
        (name.lower().endswith(NESTED_SUFFIXES), f"вложенный архив «{name}»"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _has_path(name: str) -> bool:
    """Empty, a directory separator, ``..``, or a drive letter."""
    return not name or "/" in name or "\\" in name or ".." in name or bool(_DRIVE.match(name))


def refuse_nested(first_chunk: bytes, member: str) -> None:
    """804 when a member's content starts like an archive, whatever its name."""
    if first_chunk.startswith(NESTED_MAGICS):
        raise unsafe(f"вложенный архив в файле «{member}»", member)


class GuardedReader(io.RawIOBase):
    """A member's decompressed bytes, counted as they come and cut off at the limits.

    ``already`` is what other members of the same package have yielded, so the
    total limit holds across members. Failures raise ``PackageRejected`` (801, 804).
    """

    def __init__(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, already: int = 0
    ) -> None:
        super().__init__()
        self.info, self.limits, self.already = info, limits, already
        self.count = 0
        if info.flag_bits & _ENCRYPTED:
            raise unsafe(f"файл «{info.filename}» зашифрован", info.filename)
        try:
            self._stream = zf.open(info)
        except _BROKEN as exc:
            raise unreadable(f"файл «{info.filename}» в архиве не читается", info.filename) from exc

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._stream.read(len(view))
        except _BROKEN as exc:
            raise unreadable(
                f"файл «{self.info.filename}» в архиве повреждён (данные или контрольная сумма)",
                self.info.filename,
            ) from exc
        if not data and len(view) and self.count != self.info.file_size:
            raise unreadable(
                f"файл «{self.info.filename}» короче заявленного в архиве размера",
                self.info.filename,
            )
        self.count += len(data)
        self._guard()
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if hasattr(self, "_stream"):
            self._stream.close()
        super().close()

    def _guard(self) -> None:
        name, limits = self.info.filename, self.limits
        if self.count > self.info.file_size:
            raise unsafe(f"файл «{name}» распаковывается больше заявленного размера", name)
        if self.already + self.count > limits.max_uncompressed_bytes:
            raise unsafe(
                f"распакованный объём больше предела {limits.max_uncompressed_bytes} байт", name
            )
        if self.count > limits.max_ratio * max(self.info.compress_size, 1):
            raise unsafe(f"степень сжатия файла «{name}» больше {limits.max_ratio}:1", name)


def open_member(zf: zipfile.ZipFile, member: str, limits: Limits) -> BinaryIO:
    """A buffered, guarded reader of one member (see :class:`GuardedReader`).

    Use it for every later read of a package's files, e.g. schema validation.
    """
    return io.BufferedReader(GuardedReader(zf, zf.getinfo(member), limits), CHUNK)
