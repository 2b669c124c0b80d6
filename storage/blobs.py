"""Content-addressed store of package bytes on the file system.

A blob is written to a temporary file, fsynced, renamed into place and its directory
fsynced before the ``Package`` row is committed, so an acknowledged package survives
a crash and any Redis flush. Names are the SHA-256, so writing twice is harmless.
In a multi-host deployment ``OMSX_BLOB_DIR`` is a shared volume (docs/deploy.md).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from omsx.errors import StorageUnavailable


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.bin"

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, sha256: str, data: bytes) -> Path:
        """Store ``data`` under its hash (the caller computed it)."""
        return self.put_chunks(sha256, [data])

    def put_chunks(self, sha256: str, chunks: Iterable[bytes]) -> Path:
        target = self.path(sha256)
        if target.is_file():
            return target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    for chunk in chunks:
                        fh.write(chunk)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageUnavailable(f"blob store not writable: {exc.strerror}") from exc
        return target

    def adopt(self, sha256: str, tmp_file: Path) -> Path:
        """Move an already written and fsynced temporary file into place."""
        target = self.path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_file, target)
        _fsync_dir(target.parent)
        return target

    def tmp_file(self) -> Path:
        """A fresh temporary file inside the store (same file system as the blobs)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        os.close(fd)
        return Path(tmp)

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
