"""Errors of the reference directories.

::

    OmsxError
    ├── ConfigError
    │   └── DirectoryFileError    a directory file (federal XML or seed CSV) cannot be read;
    │                             the message names the file, the row and the field
    └── DirectoryNotLoaded        a check asked for a directory nobody loaded (also a
                                  ``LookupError``), so a missing seed is loud, not a pass

Directory files hold codes and names only, so messages may quote the offending value.
"""

from __future__ import annotations

from omsx.errors import ConfigError, OmsxError


class DirectoryFileError(ConfigError):
    """A directory file that cannot be used; the message says where and why."""


class DirectoryNotLoaded(OmsxError, LookupError):
    """The named directory is not among the loaded ones."""

    def __init__(self, name: str) -> None:
        super().__init__(f"справочник {name} не загружен")
        self.name = name
