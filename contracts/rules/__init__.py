"""The rule catalogue of exchange.md §6: data (``catalogue.toml``) with its checks beside it.

::

    catalogue = load_catalogue()
    ctx = FileContext(kind="registry", file_type="H", version="3.2", file_name=base,
                      header=header, persons=persons, refs=refs, today=today, region="64",
                      sender_code="640001", participants=participants)
    for zap in records:
        problems += check_record(zap, ctx, catalogue.for_file("H", "record"))
        ctx.observe(zap)
    ctx.record_count = n
    problems += check_file(ctx, catalogue.for_file("H", "file"))

- :mod:`contracts.rules.context`   :class:`Refs` (the directories' protocol), :class:`FileContext`
- :mod:`contracts.rules.rule`      :class:`Rule`, the ``@check`` decorator
- :mod:`contracts.rules.catalogue` :class:`Catalogue`, :func:`load_catalogue`, :func:`check_record`
- the checks by family: ``directory`` (001F), ``structure`` (003F), ``personal`` (L-file),
  ``logic`` (006F), ``dates_sums`` (002K), ``oncology`` (C-files), ``dispensary`` (D-files)

A rule's ``severity`` says what its problems do: ``refuse`` the record, or ``reject``
the file. Stateful rules (005K, 007F) are in the catalogue without a check here.
"""

from __future__ import annotations

from contracts.rules.catalogue import (
    Catalogue,
    check_file,
    check_record,
    load_catalogue,
    read_catalogue,
)
from contracts.rules.context import PERSON_FIELDS, FileContext, Refs
from contracts.rules.rule import Rule, check

__all__ = [
    "PERSON_FIELDS",
    "Catalogue",
    "FileContext",
    "Refs",
    "Rule",
    "check",
    "check_file",
    "check_record",
    "load_catalogue",
    "read_catalogue",
]
