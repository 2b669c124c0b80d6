"""What every kind's writer of one run shares: config, folder, population, period, registers."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from contracts.filenames import Party, compose_name
from contracts.generator.model import Defect, GeneratedPackage, GeneratorConfig
from contracts.generator.people import Population, mix, seeded
from contracts.generator.spec import RegisterSpec

OWN_VERSION = "1.0"
"""ZGLV/VERSION of the formats that are ours (erz, tmk, schedule, appeal, expert)."""


@dataclass
class Context:
    """One run: the config, the output folder, the population and the registers written."""

    config: GeneratorConfig
    out: Path
    population: Population
    registers: list[RegisterSpec] = field(default_factory=list)

    @property
    def start(self) -> date:
        """First day of the reporting month."""
        return self.config.period_start

    @property
    def end(self) -> date:
        """Last day of the reporting month (the date of the month's files)."""
        month, year = self.config.month, self.config.year
        return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)

    @property
    def fund(self) -> Party:
        """The ТФОМС, receiver of every kind but registers."""
        return Party("tfoms", self.config.region)

    def rng(self, *parts: object) -> random.Random:
        """A random stream of its own for ``parts`` (stable across runs and processes)."""
        return seeded(mix(self.config.seed, *parts))

    def day(self, rng: random.Random, earliest: date | None = None) -> date:
        """A day of the reporting month, not before ``earliest``."""
        low = max(earliest or self.start, self.start)
        return low + timedelta(days=rng.randrange((self.end - low).days + 1))

    def uid(self, *parts: object) -> str:
        """A stable GUID (version 4 layout) for ``parts``."""
        return str(
            uuid.UUID(int=mix(self.config.seed, "uid", *parts) << 64 | mix(*parts), version=4)
        )

    def base(self, type_: str, sender: Party, *, number: int = 1, day: int | None = None) -> str:
        """A file name to the ТФОМС for the reporting month (exchange.md §3)."""
        name = compose_name(
            type_,
            sender,
            self.fund,
            year=self.config.year,
            month=self.config.month,
            number=number,
            day=day,
        )
        return name.base

    def package(
        self, base: str, kind: str, sender: Party, records: int, defects: list[Defect]
    ) -> GeneratedPackage:
        """The description of a single-file package written as ``<base>.zip``."""
        return GeneratedPackage(
            path=self.out / f"{base}.zip",
            file_name=base,
            kind=kind,
            sender=sender.token,
            records=records,
            defects=defects,
            members=[f"{base}.xml"],
        )


class DefectDraws:
    """Two draws per record, whatever the rate: with defects and without, runs stay in step."""

    def __init__(self, ctx: Context, base: str) -> None:
        self._rng = ctx.rng("defects", base)
        self._rate = ctx.config.defects

    def next(self) -> float | None:
        """``pick`` (0–1) when this record gets a defect, else None."""
        chance, pick = self._rng.random(), self._rng.random()
        return pick if chance < self._rate else None
