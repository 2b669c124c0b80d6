"""The set of directories the rules read, by name.

Asking about a directory that is not loaded raises :class:`DirectoryNotLoaded`
(a ``LookupError``) instead of answering: a missing seed must fail loudly, never
let every code through. :meth:`Directories.known` is the question to ask first
when a check is optional.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from contracts.refs.errors import DirectoryNotLoaded
from contracts.refs.model import CodeLike, Directory, directory_name
from omsx.errors import ConfigError


class Directories:
    """Directories by name; later :meth:`add` calls replace earlier ones by default."""

    def __init__(self, directories: Iterable[Directory] = ()) -> None:
        self._by_name: dict[str, Directory] = {}
        for directory in directories:
            self.add(directory, replace=False)

    @classmethod
    def seed(cls) -> Directories:
        """The shipped seed CSVs and ICD-10 (M001); parsed once, a new set each call."""
        from contracts.refs.seed import seed_directories

        return cls(seed_directories())

    def add(self, directory: Directory, *, replace: bool = True) -> None:
        """Load a directory; with ``replace=False`` a second one of the same name is an error."""
        if not replace and directory.name in self._by_name:
            raise ConfigError(f"справочник {directory.name} уже загружен")
        self._by_name[directory.name] = directory

    def known(self, name: str) -> bool:
        """Whether the directory is loaded."""
        return _key(name) in self._by_name

    def get(self, name: str) -> Directory:
        """The loaded directory; :class:`DirectoryNotLoaded` otherwise."""
        try:
            return self._by_name[_key(name)]
        except KeyError:
            raise DirectoryNotLoaded(name.strip().upper()) from None

    def valid(self, name: str, code: CodeLike, on: date | None = None) -> bool:
        """The code is in the directory (in force on ``on`` when given)."""
        return self.get(name).valid(code, on)

    def names(self) -> list[str]:
        """The loaded names, sorted."""
        return sorted(self._by_name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.known(name)

    def __iter__(self) -> Iterator[Directory]:
        return iter([self._by_name[name] for name in self.names()])

    def __len__(self) -> int:
        return len(self._by_name)


def _key(name: str) -> str:
    try:
        return directory_name(name)
    except ValueError:
        return name.strip().upper()
