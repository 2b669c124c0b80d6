"""The daily reports in the admin (issue "Admin" → Daily reports): the reports over a
range of days with charts of the main indicators, and one day's figures for the region,
an МО or an СМО, with the conservation check and the accompaniment counts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from admin.auth import Operator
from admin.charts import bar_chart
from omsx.settings import get_settings
from storage.daily import MO, REGION, SMO, daily_report, daily_runs, daily_series
from storage.db import session_scope

# the counts the charts show, in the report's category order (docs/daily.md)
CHARTS = {
    "exams": "Профосмотры и диспансеризация",
    "dispensary_new": "Взяты под диспансерное наблюдение",
    "onco_suspicions": "Подозрения на ЗНО",
    "onco_open_suspicions": "Подозрения на ЗНО без консультации",
    "hosp_referrals": "Направления на госпитализацию",
    "hosp_planned": "Плановые госпитализации",
    "hosp_emergency": "Экстренные госпитализации",
    "hosp_waiting": "Направления в ожидании",
    "tmk_consultations": "Телемедицинские консультации",
    "appeals_received": "Обращения",
    "mek_refused": "Отказы МЭК",
    "mee": "Санкции МЭЭ",
    "ekmp": "Санкции ЭКМП",
}
MAX_DAYS = 366


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationException(f"{name}: {value!r} is not a date YYYY-MM-DD") from exc


def provide_view(
    level: Annotated[str, QueryParameter(name="scope")] = REGION,  # `scope` is reserved
    code: FromQuery[str] = "",
) -> dict[str, str]:
    """Whose figures: the region, or one МО / СМО by its code."""
    if level not in (REGION, MO, SMO):
        raise ValidationException(f"scope: {level!r} is none of region, mo, smo")
    if level != REGION and not code:
        raise ValidationException(f"scope {level} needs the participant's code")
    return {"scope": level, "code": "" if level == REGION else code}


VIEW = {"view": Provide(provide_view, sync_to_thread=False)}


def _range(until: str | None, days: int) -> tuple[date, date]:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationException(f"days: {days} is not within 1–{MAX_DAYS}")
    last = _day(until, "until") or get_settings().today() - timedelta(days=1)
    return last - timedelta(days=days - 1), last


def _series(view: dict[str, str], until: str | None, days: int) -> dict[str, Any]:
    first, last = _range(until, days)
    with session_scope() as session:
        runs = daily_runs(session, first, last)
        series = daily_series(session, list(CHARTS), first, last, **view)
    return {
        "first": first,
        "last": last,
        "runs": [
            {"day": r.day.isoformat(), "built_at": r.built_at.isoformat(timespec="seconds"),
             "events": r.events, "figures": r.figures, "accompany": r.accompany,
             "unbalanced": r.unbalanced, "extracts": r.extracts, "duration_ms": r.duration_ms}
            for r in runs
        ],
        "series": series,
        "view": view,
    }  # fmt: skip


@get("/api/daily", sync_to_thread=True, dependencies=VIEW)
def api_daily_series(
    view: NamedDependency[dict[str, str]],
    until: FromQuery[str | None] = None,
    days: FromQuery[int] = 30,
) -> dict[str, Any]:
    """The reports of ``days`` days ending on ``until`` (default the region's yesterday) and the
    main indicators per day for the region or one participant (``scope``, ``code``)."""
    found = _series(view, until, days)
    return {
        "first": found["first"].isoformat(),
        "last": found["last"].isoformat(),
        "runs": found["runs"],
        "series": {
            name: [{"day": d.isoformat(), "value": v} for d, v in sorted(values.items())]
            for name, values in found["series"].items()
        },
        "view": view,
    }


@get("/daily", sync_to_thread=True, dependencies=VIEW)
def daily_page(
    request: Request[Operator, Any, Any],
    view: NamedDependency[dict[str, str]],
    until: FromQuery[str | None] = None,
    days: FromQuery[int] = 30,
) -> Template:
    """Daily reports page."""
    found = _series(view, until, days)
    span = (found["last"] - found["first"]).days + 1
    axis = [found["first"] + timedelta(days=i) for i in range(span)]
    charts = [bar_chart(title, axis, found["series"][name]) for name, title in CHARTS.items()]
    context = {"user": request.user, "found": found, "charts": charts, "view": view,
               "days": days, "until": found["last"].isoformat()}  # fmt: skip
    return Template("daily.html", context=context)


def _report(day: str, view: dict[str, str]) -> dict[str, Any]:
    chosen = _day(day, "day")
    assert chosen is not None
    with session_scope() as session:
        found = daily_report(session, chosen, **view)
    if found is None:
        raise NotFoundException(f"no daily report for {day}; run omsx consolidate --date {day}")
    return found


@get("/api/daily/{day:str}", sync_to_thread=True, dependencies=VIEW)
def api_daily(day: FromPath[str], view: NamedDependency[dict[str, str]]) -> dict[str, Any]:
    """A stored daily report: the run, the figures of the region (or ``scope``/``code``),
    the conservation check and the accompaniment counts."""
    return _report(day, view)


@get("/daily/{day:str}", sync_to_thread=True, dependencies=VIEW)
def daily_day_page(
    request: Request[Operator, Any, Any], day: FromPath[str], view: NamedDependency[dict[str, str]]
) -> Template:
    """One day's daily report page."""
    found = _report(day, view)
    return Template("daily_day.html", context={"user": request.user, "r": found, "view": view})


ROUTES = [api_daily_series, daily_page, api_daily, daily_day_page]
