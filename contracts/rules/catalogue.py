"""The catalogue: ``catalogue.toml`` read, checked, and bound to its check functions.

    catalogue = load_catalogue()                        # once per process (cached)
    record_rules = catalogue.for_file("DP", "record")   # D* file types match kind "D"
    problems = check_record(zap, ctx, record_rules)
    problems += check_file(ctx, catalogue.for_file("DP", "file"))   # after the records

Loading fails with :class:`~omsx.errors.ConfigError` when the data is malformed, a
non-stateful rule has no check function or two, a function has no rule, or a stateful
rule has one. Stateful rules (005K, 007F) are listed but never returned by
:meth:`Catalogue.for_file`: the workers check them against the registry.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from functools import cache, partial
from importlib import import_module
from pathlib import Path
from typing import Any, cast

from contracts.filenames import D_TYPES, INBOUND_KINDS, KIND_TYPES
from contracts.protocol import Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from contracts.rules.rule import CHECKS, CheckFn, Rule, Scope, Severity
from omsx.errors import ConfigError

CATALOGUE_PATH = Path(__file__).with_name("catalogue.toml")
FAMILIES = ("directory", "structure", "personal", "logic", "dates_sums", "oncology", "dispensary")
"""The modules whose ``@check`` functions the catalogue binds."""

RULE_ID = re.compile(r"[0-9]{3}[FK]\.[0-9]{2}\.[0-9]{4}")
KINDS = frozenset({"H", "C", "T", "D", "L"}) | INBOUND_KINDS
SCOPES: frozenset[str] = frozenset({"file", "record"})
SEVERITIES: frozenset[str] = frozenset({"refuse", "reject"})
_RULE_KEYS = frozenset(
    {
        "id",
        "kinds",
        "scope",
        "severity",
        "directory",
        "stateful",
        "fields",
        "message",
        "messages",
        "part",
        "f014",
        "f014_variants",
    }
)
F014_BASIS = re.compile(r"[0-9]{1,2}(\.[0-9]{1,2}){1,2}")
_PART_KEYS = frozenset({"scope", "severity", "fields", "message", "messages"})
_KIND_OF_TYPE = {t: kind for kind, types in KIND_TYPES.items() for t in types}

Checks = Mapping[tuple[str, Scope | None], CheckFn]


class Catalogue:
    """The rules by id; a rule with a file part and a record part has two :class:`Rule` s."""

    def __init__(self, parts: Sequence[Rule], f014: Mapping[str, str] | None = None) -> None:
        self.f014 = dict(f014 or {})
        """Refusal bases (F014) of protocol codes: ``default`` and, e.g., ``905``."""
        self._parts: dict[str, tuple[Rule, ...]] = {}
        for rule in parts:
            self._parts[rule.id] = (*self._parts.get(rule.id, ()), rule)
        self._for_file: dict[tuple[str, str], tuple[Rule, ...]] = {}

    def for_file(self, file_type: str, scope: str) -> list[Rule]:
        """The stateless rules (parts) of ``scope`` for ``file_type``, in catalogue order."""
        key = (file_type, scope)
        found = self._for_file.get(key)
        if found is None:
            tokens = {file_type, _KIND_OF_TYPE.get(file_type, file_type)}
            if file_type in D_TYPES:
                tokens.add("D")
            found = tuple(
                rule
                for parts in self._parts.values()
                for rule in parts
                if rule.scope == scope and not rule.stateful and not tokens.isdisjoint(rule.kinds)
            )
            self._for_file[key] = found
        return list(found)

    def basis(self, reason: str, variant: str = "") -> str:
        """The F014 basis of a refusal whose reason is a rule id or a protocol code."""
        parts = self._parts.get(reason)
        if parts is not None:
            rule = parts[0]
            found = rule.f014_variants.get(variant) if variant else None
            if found or rule.f014:
                return found or rule.f014
        return self.f014.get(reason) or self.f014.get("default", "")

    def parts(self, rule_id: str) -> tuple[Rule, ...]:
        """Every part of a rule: the declared one first, then its ``[[rule.part]]`` s."""
        return self._parts[rule_id]

    def __getitem__(self, rule_id: str) -> Rule:
        """The rule as declared (its first part)."""
        return self._parts[rule_id][0]

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._parts

    def __iter__(self) -> Iterator[Rule]:
        """Each rule once (its first part), in catalogue order."""
        return (parts[0] for parts in self._parts.values())

    def __len__(self) -> int:
        return len(self._parts)


def check_record(record: Record, ctx: FileContext, rules: Sequence[Rule]) -> list[Problem]:
    """Every problem the rules find in one record (for file-scope rules: the header)."""
    problems: list[Problem] = []
    for rule in rules:
        if rule.check is None:
            raise ValueError(f"rule {rule.id} is stateful: it has no check here")
        problems.extend(rule.check(record, ctx))
    return problems


def check_file(ctx: FileContext, rules: Sequence[Rule]) -> list[Problem]:
    """The file-scope rules, once the records are through: they read ``ctx.header``."""
    return check_record(ctx.header, ctx, rules)


def registered_checks() -> Checks:
    """Every ``@check`` function, after importing the :data:`FAMILIES` that define them."""
    for name in FAMILIES:
        import_module(f"contracts.rules.{name}")
    return CHECKS


@cache
def load_catalogue() -> Catalogue:
    """The shipped catalogue bound to the registered checks (built once per process)."""
    return read_catalogue(CATALOGUE_PATH, registered_checks())


def read_catalogue(source: Path, checks: Checks) -> Catalogue:
    """Read and validate a catalogue file, binding each stateless part to its function."""
    try:
        with source.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"каталог правил {source.name} не читается: {exc}") from exc
    entries = data.get("rule")
    if not isinstance(entries, list) or not set(data) <= {"rule", "f014"}:
        raise ConfigError(f"{source.name}: ожидаются только таблицы [[rule]] и [f014]")
    f014 = _bases(data.get("f014", {}), f"{source.name}: [f014]")
    parts: list[Rule] = []
    for entry in entries:
        for rule in _parse(entry, source.name):
            if any(p.id == rule.id and p.scope == rule.scope for p in parts):
                raise ConfigError(f"{source.name}: правило {rule.id} ({rule.scope}) указано дважды")
            parts.append(rule)
    return Catalogue(_bind(parts, checks, source.name), f014)


def _bases(table: Any, where: str) -> dict[str, str]:
    """A table of F014 bases (``x.y`` or ``x.y.z``) by name."""
    if not isinstance(table, dict) or not all(
        isinstance(v, str) and F014_BASIS.fullmatch(v) for v in table.values()
    ):
        raise ConfigError(f"{where}: основания F014 записываются как 5.1.4")
    return {str(k): v for k, v in table.items()}


def _parse(entry: Any, where: str) -> list[Rule]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: [[rule]] должен быть таблицей")
    rule_id = entry.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
        raise ConfigError(f"{where}: неверный id правила {rule_id!r}: нужно KKKK.RR.TTTT")
    where = f"{where}: правило {rule_id}"
    _only(entry, _RULE_KEYS, where)
    kinds = _strings(entry.get("kinds"), "kinds", where)
    if not kinds or not set(kinds) <= KINDS:
        raise ConfigError(f"{where}: kinds должны быть из {sorted(KINDS)}")
    directory = entry.get("directory", [])
    directory = (
        (directory,) if isinstance(directory, str) else _strings(directory, "directory", where)
    )
    if bool(directory) != rule_id.startswith("001F"):
        raise ConfigError(f"{where}: directory указывается у правил 001F и только у них")
    stateful = entry.get("stateful")
    if not isinstance(stateful, bool):
        raise ConfigError(f"{where}: stateful должен быть true или false")
    f014 = entry.get("f014", "")
    if f014 and not (isinstance(f014, str) and F014_BASIS.fullmatch(f014)):
        raise ConfigError(f"{where}: f014 записывается как 5.1.4, а не {f014!r}")
    f014_variants = _bases(entry.get("f014_variants", {}), f"{where}: f014_variants")
    first = _part(entry, where)
    rest = entry.get("part", [])
    if not isinstance(rest, list) or not all(isinstance(p, dict) for p in rest):
        raise ConfigError(f"{where}: part должен быть массивом таблиц [[rule.part]]")
    parts = [first]
    for extra in rest:
        _only(extra, _PART_KEYS, where)
        parts.append(_part({"fields": entry.get("fields"), **extra}, where))
    return [
        Rule(
            rule_id,
            kinds,
            scope,
            severity,
            directory,
            stateful,
            fields,
            message,
            messages,
            f014=f014,
            f014_variants=f014_variants,
        )
        for scope, severity, fields, message, messages in parts
    ]


def _part(
    table: dict[str, Any], where: str
) -> tuple[Scope, Severity, tuple[str, ...], str, dict[str, str]]:
    scope, severity = table.get("scope"), table.get("severity")
    if scope not in SCOPES:
        raise ConfigError(f"{where}: scope должен быть file или record, а не {scope!r}")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: severity должен быть refuse или reject, а не {severity!r}")
    fields = _strings(table.get("fields"), "fields", where)
    message = table.get("message")
    messages = table.get("messages", {})
    texts = [message, *messages.values()] if isinstance(messages, dict) else [None]
    if not all(isinstance(t, str) and t for t in texts):
        raise ConfigError(f"{where}: message и messages должны быть непустыми строками")
    return cast(Scope, scope), cast(Severity, severity), fields, cast(str, message), dict(messages)


def _strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {name} должен быть списком непустых строк")
    return tuple(value)


def _only(table: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{where}: неизвестные ключи {sorted(unknown)}")


def _bind(parts: list[Rule], checks: Checks, where: str) -> list[Rule]:
    bound: dict[tuple[str, str], Rule] = {}
    for (rule_id, scope), fn in checks.items():
        candidates = [p for p in parts if p.id == rule_id and scope in (None, p.scope)]
        if not candidates:
            raise ConfigError(
                f"{where}: функция {fn.__name__} проверяет {rule_id} ({scope}), "
                "которого нет в каталоге"
            )
        if len(candidates) > 1:
            raise ConfigError(
                f"{where}: у правила {rule_id} несколько частей: "
                f"укажите scope у функции {fn.__name__}"
            )
        rule = candidates[0]
        if rule.stateful:
            raise ConfigError(f"{where}: у правила {rule_id} (stateful) не бывает функции")
        if (rule.id, rule.scope) in bound:
            raise ConfigError(f"{where}: у правила {rule_id} ({rule.scope}) две функции проверки")
        bound[rule.id, rule.scope] = replace(rule, check=partial(fn, rule))
    missing = [
        f"{p.id} ({p.scope})" for p in parts if not p.stateful and (p.id, p.scope) not in bound
    ]
    if missing:
        raise ConfigError(f"{where}: нет функции проверки у {', '.join(missing)}")
    return [bound.get((p.id, p.scope), p) for p in parts]
