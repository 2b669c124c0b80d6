"""Synthetic exchange packages for demos, tests and benchmarks (``omsx demo generate``).

- :func:`generate` writes a month of one region: every kind of exchange.md §4, the same
  people everywhere, and ``manifest.json`` with the defects planted (:mod:`.demo`)
- :func:`write_register` writes one register (H, C, T, DP, DV, DO + L-file), streaming,
  of any size (:mod:`.registers`)

Modules: :mod:`.model` (config, packages, defects, manifest), :mod:`.codes` (every
directory code used), :mod:`.checksums` (SNILS, ENP), :mod:`.people` (the population),
:mod:`.spec` (register layouts and identifiers), :mod:`.cases` (cases as data),
:mod:`.conditions` and :mod:`.clinic` (cases per condition and register type),
:mod:`.defects` (register defects), :mod:`.zap` (register markup), :mod:`.emit` (XML
into ZIP), :mod:`.context` (one run), :mod:`.insurance` (erz, attach), :mod:`.hosp`,
:mod:`.events` (tmk, schedule, appeal), :mod:`.expert`.

Everything is a function of the seed: the same config writes the same bytes. People are
synthetic (made-up surnames, numbers with valid check digits that belong to no one on
purpose); bad settings raise :class:`~omsx.errors.ConfigError`.
"""

from __future__ import annotations

from contracts.generator.demo import REGISTER_SHARES, generate
from contracts.generator.model import (
    MANIFEST_NAME,
    Defect,
    GeneratedPackage,
    GeneratorConfig,
    Manifest,
)
from contracts.generator.registers import write_register

__all__ = [
    "MANIFEST_NAME",
    "REGISTER_SHARES",
    "Defect",
    "GeneratedPackage",
    "GeneratorConfig",
    "Manifest",
    "generate",
    "write_register",
]
