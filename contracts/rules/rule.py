"""A rule of the catalogue, and the decorator that registers its check function.

A check function takes ``(rule, record, ctx)`` and yields :class:`Problem` s built with
:meth:`Rule.problem`, which words them from the catalogue's message templates and
fills the protocol's keys from the record's position::

    @check("006F.00.1200")
    def vidpom_fits_usl_ok(rule: Rule, zap: Record, ctx: FileContext) -> Iterator[Problem]:
        ...
        yield rule.problem("VIDPOM", "Z_SL", {"usl_ok": usl_ok, "vidpom": vidpom},
                           zap=zap, zn_pol=vidpom)

The catalogue binds each function to its rule, so the engine calls ``rule.check(record,
ctx)``. Record-scope rules get one record (a ZAP, a PERS …); file-scope rules get the
header (``ctx.header``) once, after the records.

Problems of directory rules (001F) carry OSHIB 904 and COMMENT "<rule id> <text>";
every other rule's problems carry its id in OSHIB (exchange.md §5). BAS_EL is always
the parent of IM_POL; whether the record is refused or the file rejected follows the
rule's ``severity``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from contracts.protocol import Code, Problem
from contracts.records import Record
from contracts.rules.context import FileContext
from omsx.errors import ConfigError

Scope = Literal["file", "record"]
Severity = Literal["refuse", "reject"]
Check = Callable[[Record, FileContext], Iterable[Problem]]
CheckFn = Callable[["Rule", Record, FileContext], Iterable[Problem]]

DIRECTORY_OSHIB = str(int(Code.DIRECTORY))


@dataclass(frozen=True)
class Rule:
    """One rule (or one scope of a rule that has a file part and a record part)."""

    id: str
    kinds: tuple[str, ...]
    scope: Scope
    severity: Severity
    directory: tuple[str, ...]
    """For 001F rules the directories they check (F003, V006 …); empty for every other rule."""
    stateful: bool
    fields: tuple[str, ...]
    message: str
    messages: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Further templates for the rule's other cases, by name."""
    f014: str = ""
    """The refusal basis (F014, e.g. ``5.2.1``) a record refused by this rule carries."""
    f014_variants: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Bases of the rule's other cases, by the name of their message."""
    check: Check | None = field(default=None, compare=False, repr=False)

    @property
    def oshib(self) -> str:
        """``904`` for directory rules, the rule id otherwise."""
        return DIRECTORY_OSHIB if self.directory else self.id

    def text(self, values: Mapping[str, object], variant: str = "") -> str:
        """COMMENT: the template filled in; directory rules start it with the rule id."""
        template = self.messages[variant] if variant else self.message
        text = template.format_map(values)
        return f"{self.id} {text}" if self.directory else text

    def problem(
        self,
        im_pol: str,
        bas_el: str,
        values: Mapping[str, object],
        *,
        variant: str = "",
        zap: Record | None = None,
        sl: Record | None = None,
        usl: Record | None = None,
        id_pac: str | None = None,
        zn_pol: object = None,
    ) -> Problem:
        """One PR at the position of ``zap``/``sl``/``usl``. ``zn_pol`` is never personal data."""
        n_zap = idcase = None
        if zap is not None:
            n_zap = _key(zap.get("N_ZAP"))
            z_sl = zap.get("Z_SL")
            idcase = _key(z_sl.get("IDCASE")) if isinstance(z_sl, dict) else None
            pacient = zap.get("PACIENT")
            if id_pac is None and isinstance(pacient, dict):
                id_pac = _key(pacient.get("ID_PAC"))
        return Problem(
            oshib=self.oshib,
            comment=self.text(values, variant),
            im_pol=im_pol,
            bas_el=bas_el,
            n_zap=n_zap,
            idcase=idcase,
            sl_id=_key(sl.get("SL_ID")) if sl is not None else None,
            idserv=_key(usl.get("IDSERV")) if usl is not None else None,
            id_pac=id_pac,
            zn_pol=None if zn_pol is None or zn_pol == "" else str(zn_pol),
        )


def _key(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


CHECKS: dict[tuple[str, Scope | None], CheckFn] = {}
"""Registered check functions by (rule id, scope); scope None = the rule's only part."""


def check(rule_id: str, scope: Scope | None = None) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated function as the check of ``rule_id``.

    ``scope`` is needed only for a rule that has both a file part and a record part.
    """

    def register(fn: CheckFn) -> CheckFn:
        key = (rule_id, scope)
        if key in CHECKS:
            raise ConfigError(f"у правила {rule_id} ({scope}) уже есть функция проверки")
        CHECKS[key] = fn
        return fn

    return register
