"""A whole month of one region's exchange: every kind, consistent across kinds.

:func:`generate` makes one population and writes, in the order to publish them:

1. erz of each СМО (who is insured), attach and schedule of each МО;
2. registers of each МО × СМО: H with ``cases`` cases, C, T, DP, DV, DO with their share
   (:data:`REGISTER_SHARES`, at least one case), each with its L-file;
3. hosp files drawn from the hospital cases of the H registers;
4. tmk of each МО, appeal and expert of each СМО (expert refers to H cases);
5. ``manifest.json`` listing every package with its planted defects.

The same person keeps ENP, SNILS, name and birth date in every kind; a register to an
СМО holds only people that СМО insures (so МЭК 005K.64.0001 never fires on clean data).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from contracts.generator.context import Context
from contracts.generator.events import write_appeal, write_schedule, write_tmk
from contracts.generator.expert import write_expert
from contracts.generator.hosp import write_hosp
from contracts.generator.insurance import write_attach, write_erz
from contracts.generator.model import MANIFEST_NAME, GeneratedPackage, GeneratorConfig, Manifest
from contracts.generator.people import Population
from contracts.generator.registers import write_spec
from contracts.generator.spec import RegisterSpec

REGISTER_SHARES = {"H": 1.0, "C": 0.1, "T": 0.05, "DP": 0.2, "DV": 0.05, "DO": 0.1}
"""Register type → its number of cases as a share of ``cases``."""


def generate(out: Path, config: GeneratorConfig) -> Manifest:
    """Write every package of the month into ``out`` (created if missing) and the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    population = Population(
        seed=config.seed,
        region=config.region,
        size=config.population_size,
        smos=config.smo_codes,
        mos=config.mo_codes,
        period_start=config.period_start,
    )
    ctx = Context(config, out, population)
    packages: list[GeneratedPackage] = []
    for smo in config.smo_codes:
        packages += write_erz(ctx, smo)
    for mo in config.mo_codes:
        packages += [write_attach(ctx, mo), write_schedule(ctx, mo)]
    packages += _registers(ctx)
    packages += write_hosp(ctx)
    packages += [write_tmk(ctx, mo) for mo in config.mo_codes]
    packages += [write_appeal(ctx, smo) for smo in config.smo_codes]
    packages += [write_expert(ctx, smo) for smo in config.smo_codes]
    settings = {**asdict(config), "people": population.size}
    manifest = Manifest(packages, population.size, config.seed, settings)
    (out / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def _registers(ctx: Context) -> list[GeneratedPackage]:
    config = ctx.config
    packages = []
    for mo in config.mo_codes:
        for smo in config.smo_codes:
            for type_, share in REGISTER_SHARES.items():
                spec = RegisterSpec(
                    type=type_,
                    mo=mo,
                    smo=smo,
                    cases=max(1, round(config.cases * share)),
                    version=config.version,
                    seed=config.seed,
                    defects=config.defects,
                    year=config.year,
                    month=config.month,
                    referrers=tuple(config.mo_codes),
                )
                ctx.registers.append(spec)
                packages.append(write_spec(ctx.out, spec, ctx.population))
    return packages
