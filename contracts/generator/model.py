"""What the generator is asked for and what it answers: config, packages, defects, manifest."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from omsx.errors import ConfigError

MANIFEST_NAME = "manifest.json"
MAX_PARTICIPANTS = {"mo": 999, "smo": 99}


@dataclass
class GeneratorConfig:
    """What :func:`~contracts.generator.generate` makes.

    ``cases`` is the number of cases in each H register; there is one H register per
    МО × СМО pair, and the C, T, DP, DV and DO registers of each pair carry a share of it
    (:data:`~contracts.generator.demo.REGISTER_SHARES`, at least one case each).
    ``people`` = 0 sizes the population as ``max(20 × smo, cases × mo)``. ``defects`` is
    the share (0.0–1.0) of records, in every kind that has record-level defects, that get
    exactly one planted defect.
    """

    region: str = "64"
    mo: int = 3
    smo: int = 2
    cases: int = 100
    defects: float = 0.0
    seed: int = 0
    year: int = 2025
    month: int = 11
    version: str = "3.2"
    people: int = 0

    def __post_init__(self) -> None:
        check_common(self.defects, self.version, self.year, self.month)
        if len(self.region) != 2 or not self.region.isdigit():
            raise ConfigError(f"регион «{self.region}»: нужны 2 цифры")
        for role, count in (("mo", self.mo), ("smo", self.smo)):
            if not 1 <= count <= MAX_PARTICIPANTS[role]:
                raise ConfigError(f"{role}={count}: нужно от 1 до {MAX_PARTICIPANTS[role]}")
        if self.cases < 1 or self.people < 0:
            raise ConfigError("cases должно быть ≥ 1, people ≥ 0")

    @property
    def mo_codes(self) -> list[str]:
        """``<region>0001`` …"""
        return [f"{self.region}{n:04d}" for n in range(1, self.mo + 1)]

    @property
    def smo_codes(self) -> list[str]:
        """``<region>001`` …"""
        return [f"{self.region}{n:03d}" for n in range(1, self.smo + 1)]

    @property
    def period_start(self) -> date:
        """First day of the reporting month."""
        return date(self.year, self.month, 1)

    @property
    def population_size(self) -> int:
        """``people``, or the default size."""
        return self.people or max(20 * self.smo, self.cases * self.mo)


def check_common(defects: float, version: str, year: int, month: int) -> None:
    """Refuse settings no generator can honour (a :class:`~omsx.errors.ConfigError`)."""
    if not 0.0 <= defects <= 1.0:
        raise ConfigError(f"defects={defects}: нужна доля от 0.0 до 1.0")
    if version not in ("3.1", "3.2"):
        raise ConfigError(f"версия формата «{version}»: поддерживаются 3.1 и 3.2")
    if not (2000 <= year <= 2099 and 1 <= month <= 12):
        raise ConfigError(f"период {year}-{month}: неверный год или месяц")


@dataclass(frozen=True)
class Defect:
    """One planted defect and what the hub must answer.

    ``expected`` is the protocol's OSHIB: an F012 code (``"904"``, ``"905"``) or a rule
    id (``"006F.00.1200"``); ``rule`` names the rule behind a 904 (the first word of
    COMMENT). ``n_zap`` is the record as the protocol's N_ZAP names it (the position for
    kinds without N_ZAP; None for a PERS of an L-file, which the protocol names by
    ID_PAC) and ``key`` its key (IDCASE, ID_PAC, ENP, ID_D …). ``file_name`` is the file
    holding the defect (the L-file for personal-data defects). ``kind`` names the defect
    (:mod:`contracts.generator.defects` and the modules of the other kinds).
    """

    file_name: str
    n_zap: int | None
    key: str | None
    expected: str
    detail: str
    kind: str = ""
    rule: str | None = None


@dataclass
class GeneratedPackage:
    """A written ZIP package: where, its main file's name and kind, sender, records, defects."""

    path: Path
    file_name: str
    kind: str
    sender: str
    records: int
    defects: list[Defect] = field(default_factory=list)
    members: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """The inbound subject to publish on: ``oms.in.<role>.<code>.<kind>``."""
        return f"oms.in.{self.sender}.{self.kind}"

    @property
    def package_name(self) -> str:
        """The ZIP's name (``Oms-File-Name``)."""
        return self.path.name


@dataclass
class Manifest:
    """Every package of a run, in the order to publish them, with the planted defects."""

    packages: list[GeneratedPackage]
    people: int
    seed: int
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def defects(self) -> list[Defect]:
        """All planted defects."""
        return [d for p in self.packages for d in p.defects]

    def to_json(self) -> str:
        """JSON with package paths relative to the manifest's folder (their names)."""
        packages = []
        for package in self.packages:
            item = asdict(package)
            item["path"] = package.path.name
            item["subject"] = package.subject
            packages.append(item)
        data = {"seed": self.seed, "people": self.people, "config": self.config}
        return json.dumps({**data, "packages": packages}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str, root: Path) -> Manifest:
        """Read :meth:`to_json` output; package paths are resolved under ``root``."""
        data = json.loads(text)
        packages = [
            GeneratedPackage(
                path=root / item["path"],
                file_name=item["file_name"],
                kind=item["kind"],
                sender=item["sender"],
                records=item["records"],
                defects=[Defect(**d) for d in item["defects"]],
                members=list(item.get("members", [])),
            )
            for item in data["packages"]
        ]
        return cls(packages, data["people"], data["seed"], data.get("config", {}))

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        """The manifest written into ``folder`` by a run."""
        return cls.from_json((folder / MANIFEST_NAME).read_text(encoding="utf-8"), folder)
