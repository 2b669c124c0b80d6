"""The region's day (``OMSX_TIMEZONE``): FLK's «today» and a package's received date are
the region's, not the server's (which usually runs on UTC, up to 12 hours behind a
Russian region: a file dated today at 01:00 in Saratov was «ahead» of a UTC «today»)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from omsx.settings import Settings

AHEAD = "Pacific/Kiritimati"  # UTC+14
BEHIND = "Pacific/Pago_Pago"  # UTC-11: 25 hours behind AHEAD, always another date


def test_today_is_the_zones_date_not_the_servers() -> None:
    ahead, behind = Settings(timezone=AHEAD).today(), Settings(timezone=BEHIND).today()
    assert ahead - behind in (timedelta(days=1), timedelta(days=2))
    utc = datetime.now(UTC).date()
    assert behind <= utc <= ahead


def test_a_stored_moment_is_dated_in_the_region() -> None:
    saratov = Settings()  # Europe/Saratov, UTC+4, the default region's
    late = datetime(2026, 11, 23, 21, 30)  # SQLite gives UTC back naive
    assert saratov.local_date(late) == date(2026, 11, 24)
    assert saratov.local_date(late.replace(tzinfo=UTC)) == date(2026, 11, 24)
    assert saratov.local_date(datetime(2026, 11, 23, 19, 59, tzinfo=UTC)) == date(2026, 11, 23)
    moscow_evening = datetime(2026, 11, 23, 23, 30, tzinfo=timezone(timedelta(hours=3)))
    assert saratov.local_date(moscow_evening) == date(2026, 11, 24)


def test_an_unknown_zone_is_refused_with_its_name() -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus_Mons"):
        Settings(timezone="Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(timezone="../../etc/passwd")
