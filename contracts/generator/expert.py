"""Expert-control results (exchange.md §4.8) on cases of the run's H registers.

Each СМО reviews about one in 20 of the defect-free cases it was invoiced (at most
:data:`CASE_LIMIT` per file): МЭЭ or ЭКМП, with or without a deduction (S_SUM at most
30 % of SUMV), acts dated after the month. A case is taken only from a register sent to
that СМО, so every SANK refers to a case the hub accepted for it.

Planted defects (007F.64.0003): ``expert_sum_exceeds`` raises S_SUM above the case's
SUMV (the case is accepted in full, so SUMP = SUMV); ``expert_unknown_case`` adds a ZAP
for an IDCASE that no register carries.
"""

from __future__ import annotations

import random
from datetime import timedelta

from contracts.filenames import Party
from contracts.generator.cases import Case
from contracts.generator.codes import EKMP_TYPES, EXPERT_S_OSN, EXPERT_S_TIP
from contracts.generator.context import OWN_VERSION, Context, DefectDraws
from contracts.generator.emit import Markup, write_single
from contracts.generator.model import Defect, GeneratedPackage
from contracts.generator.registers import iter_cases
from contracts.generator.spec import RegisterSpec
from contracts.records import money

CASE_LIMIT = 500
SHARE_REVIEWED = 0.05
EXPERT_RULE = "007F.64.0003"
EXCESS = 100_000  # kopecks above SUMV
ACT_DELAY = (5, 20)  # days after the month


def write_expert(ctx: Context, smo: str) -> GeneratedPackage:
    """The СМО's expert-control file."""
    party = Party("smo", smo)
    base = ctx.base("A", party)
    draws = DefectDraws(ctx, base)
    records: list[Markup] = []
    defects: list[Defect] = []
    for spec, case in _reviewed(ctx, smo):
        rng = ctx.rng("expert", spec.base, case.idcase)
        n = len(records) + 1
        pick = draws.next()
        if pick is not None and pick < 0.5:
            records.append(
                _zap(ctx, n, spec, case, idcase=case.idcase, amount=case.sumv + EXCESS, rng=rng)
            )
            detail = f"S_SUM больше SUMV случая на {money(EXCESS)}"
            defects.append(
                Defect(base, n, str(case.idcase), EXPERT_RULE, detail, "expert_sum_exceeds")
            )
            continue
        amount = _deduction(rng, case.sumv)
        records.append(_zap(ctx, n, spec, case, idcase=case.idcase, amount=amount, rng=rng))
        if pick is not None:
            unknown = spec.idcase_base + spec.cases + n  # beyond the register's last IDCASE
            records.append(_zap(ctx, n + 1, spec, case, idcase=unknown, amount=0, rng=rng))
            detail = f"IDCASE={unknown} нет в реестре {spec.nschet}"
            defects.append(
                Defect(base, n + 1, str(unknown), EXPERT_RULE, detail, "expert_unknown_case")
            )
    header = Markup("ZGLV")
    header.leaf("VERSION", OWN_VERSION)
    header.leaf("DATA", ctx.end + timedelta(days=ACT_DELAY[1] + 5))
    header.leaf("FILENAME", base)
    header.leaf("SMO", smo)
    header.leaf("SD_Z", len(records))
    header.close("ZGLV")
    write_single(ctx.out / f"{base}.zip", "EXPERT_LIST", header, records, day=ctx.end)
    return ctx.package(base, "expert", party, len(records), defects)


def _reviewed(ctx: Context, smo: str) -> list[tuple[RegisterSpec, Case]]:
    chosen: list[tuple[RegisterSpec, Case]] = []
    for spec in ctx.registers:
        if spec.type != "H" or spec.smo != smo:
            continue
        rng = ctx.rng("expert-choice", spec.base)
        people = ctx.population.insured_by(smo)
        for case in iter_cases(spec, ctx.population, people):
            if len(chosen) >= CASE_LIMIT:
                return chosen
            if rng.random() < SHARE_REVIEWED and case.defect is None:
                chosen.append((spec, case))
    return chosen


def _deduction(rng: random.Random, sumv: int) -> int:
    return 0 if rng.random() < 0.4 else int(sumv * rng.uniform(0.05, 0.3)) // 100 * 100


def _zap(
    ctx: Context,
    n: int,
    spec: RegisterSpec,
    case: Case,
    *,
    idcase: int,
    amount: int,
    rng: random.Random,
) -> Markup:
    tip = rng.choice(tuple(EXPERT_S_TIP))
    m = Markup("ZAP")
    m.leaf("N_ZAP", n)
    m.leaf("CODE_MO", spec.mo)
    m.leaf("YEAR", spec.year)
    m.leaf("MONTH", spec.month)
    m.leaf("NSCHET", spec.nschet)
    m.leaf("IDCASE", idcase)
    m.open("SANK")
    m.leaf("S_CODE", ctx.uid("sank", spec.base, idcase, n))
    m.leaf("S_SUM", money(amount))
    m.leaf("S_TIP", tip)
    m.leaf("SL_ID", case.sl[0].sl_id if idcase == case.idcase else f"{idcase}-1")
    m.leaf("S_OSN", rng.choice(EXPERT_S_OSN))
    m.leaf("DATE_ACT", ctx.end + timedelta(days=rng.randint(*ACT_DELAY)))
    m.leaf("NUM_ACT", f"{'ЭКМП' if tip in EKMP_TYPES else 'МЭЭ'}-{spec.smo}-{n}")
    if tip in EKMP_TYPES:
        m.leaf("CODE_EXP", f"{spec.region}Э{rng.randint(1, 20):03d}")
    m.close("SANK")
    m.close("ZAP")
    return m
