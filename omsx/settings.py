"""One typed settings object, read once from ``OMSX_*`` environment variables.

The defaults are the embedded setup that ``make run`` starts: nats-server and Valkey
from wheels with their data under ``./var``, SQLite at ``./var/omsx.db``. The ports
of the embedded servers are deliberately not the standard 4222/6379, so a NATS or
Redis already running on the machine is left alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Every knob of the hub. Environment: ``OMSX_<FIELD NAME IN CAPS>``."""

    model_config = SettingsConfigDict(env_prefix="OMSX_", extra="ignore")

    region: str = Field("64", pattern=r"^\d{2}$", description="2-digit region (ТФОМС) code served")
    timezone: str = Field(
        "Europe/Saratov",
        description="The region's time zone (IANA name; the default is region 64's): "
        "FLK's «today» and the date a package was received are the region's, not the "
        "server's, which usually runs on UTC",
    )
    data_dir: Path = Field(Path("var"), description="Where embedded servers, SQLite and blobs live")

    nats_url: str = Field("nats://127.0.0.1:14222", description="NATS server(s), comma-separated")
    nats_user: str | None = Field(None, description="NATS user of the hub itself")
    nats_password: str | None = Field(None, description="Password of the hub's NATS user")
    nats_nkey_seed: Path | None = Field(
        None,
        description="File with the hub's NKey seed; empty = <data dir>/nats-auth/hub.nk "
        "when that exists (omsx nats-config writes it) and OMSX_NATS_USER is unset",
    )
    nats_auth: bool = Field(
        True,
        description="The embedded nats-server runs with the per-participant users of "
        "omsx nats-config (docs/nats.md); false = no authentication (development only)",
    )
    redis_url: str = Field("redis://127.0.0.1:16379/0", description="Redis/Valkey for Dramatiq")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty = sqlite:///<data_dir>/omsx.db"
    )
    blob_dir: Path | None = Field(None, description="Package bytes store; empty = <data_dir>/blobs")
    broker: Literal["redis", "stub"] = Field(
        "redis", description="stub = Dramatiq StubBroker (tests)"
    )

    # streams (exchange.md §2)
    in_duplicate_window_s: int = Field(24 * 3600, description="OMS_IN Nats-Msg-Id duplicate window")
    in_retention_days: int = Field(30, ge=30, description="OMS_IN message retention")
    out_retention_days: int = Field(90, ge=90, description="OMS_OUT message retention")
    out_duplicate_window_s: int = Field(24 * 3600, description="OMS_OUT duplicate window")
    stream_replicas: int = Field(
        1,
        ge=1,
        le=5,
        description="Replicas of OMS_IN, OMS_OUT and OMS_PACKAGES: 3 on a 3-node NATS cluster "
        "(docs/deploy.md); 1 on a single server",
    )
    ingest_batch: int = Field(64, ge=1, description="Messages fetched per ingest pull")
    ingest_concurrency: int = Field(
        8, ge=1, description="Messages of a pull an ingest process stores at once"
    )
    ingest_durable: str = Field("omsx-ingest", description="Durable name of the ingest consumer")
    ingest_ack_wait_s: int = Field(
        15, ge=5, description="Redelivery after this long without an ack or a progress beat"
    )

    # package limits (exchange.md §3)
    max_package_bytes: int = Field(64 * MiB, description="Largest accepted package, compressed")
    max_uncompressed_bytes: int = Field(1024 * MiB, description="Largest total uncompressed size")
    max_ratio: int = Field(200, description="Largest compression ratio of a member or the package")
    protocol_encoding: Literal["utf-8", "windows-1251"] = Field(
        "utf-8", description="Encoding of FLK protocols"
    )

    # FLK
    flk_workers: int = Field(
        0, ge=0, description="Processes checking one large file; 0 = one per core"
    )
    flk_parallel_min_bytes: int = Field(
        16 * MiB, ge=0, description="Files at least this large (uncompressed) use those processes"
    )

    # workers
    worker_processes: int = Field(2, ge=1, description="Dramatiq worker processes")
    # 3, not more: a thread that holds the database's write lock (SQLite) or runs its
    # statements waits for the GIL between them while the others parse XML
    # (bench-load, 2 cores: 3 threads answered 5–15 % more than 4, on both databases)
    worker_threads: int = Field(3, ge=1, description="Threads per worker process")
    max_retries: int = Field(8, ge=0, description="Retries of a transient failure")
    stage_deadline_s: int = Field(
        300, ge=5, description="A stage not moved for this long is re-driven"
    )
    sweep_interval_s: int = Field(30, ge=1, description="How often the sweeper runs")
    quarantine_after: int = Field(
        3,
        ge=1,
        description="A package whose validate/apply deliveries died this many times in a "
        "row (worker killed, out of memory) is quarantined instead of delivered again",
    )
    apply_batch: int = Field(
        1000,
        ge=1,
        description="Records applied per transaction (registers, erz, attach …); a batch's "
        "parsed records stay in memory until it commits (~100 KB each for a register)",
    )
    apply_inline_max_bytes: int = Field(
        1 * MiB,
        ge=0,
        description="Packages up to this size are applied in the delivery that validated "
        "them (one Dramatiq hop fewer); 0 sends every package through the apply queue",
    )
    publish_mark_linger_ms: int = Field(
        20,
        ge=0,
        le=60_000,
        description="How long a published answer's mark waits to be written with others "
        "(one transaction for many); a mark lost with its process costs a re-publish "
        "that OMS_OUT drops as a duplicate",
    )
    apply_lease_wait_s: float = Field(
        1.0,
        ge=0,
        description="How long apply waits in its delivery for a scope another package holds",
    )
    apply_busy_delay_s: float = Field(
        2.0,
        ge=0,
        description="Delay before retrying a package whose scope another one still holds "
        "after the wait",
    )
    apply_lease_stale_s: int = Field(
        3600, ge=60, description="An apply lease older than this is taken over"
    )

    fault_fail_after_batches: int = Field(
        0, ge=0, description="Test hook: a register's first apply fails after this many batches"
    )
    fault_pause_before_ack_s: float = Field(
        0.0, ge=0, description="Test hook: ingest sleeps this long between storing and acking"
    )

    # the daily consolidation (design.md "Daily consolidation", docs/daily.md)
    daily_at: str = Field(
        "02:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="The region's time (HH:MM, OMSX_TIMEZONE) after which the scheduler "
        "consolidates the region's previous day",
    )
    daily_lookback_days: int = Field(
        365, ge=1, description="How far back the consolidation follows open pathways"
    )
    daily_onco_days: int = Field(
        7, ge=0, description="A suspicion of cancer with no consultation after N days is open"
    )
    daily_referral_days: int = Field(
        30, ge=0, description="A referral with no admission after N days is counted as waiting"
    )
    daily_overdue_days: int = Field(
        2, ge=0, description="A planned admission is overdue N days after its planned date"
    )
    daily_dispensary_days: int = Field(
        30, ge=0, description="Taken under dispensary observation, no visit after N days: missed"
    )
    daily_tmk_days: int = Field(
        30, ge=1, description="Telemedicine: the implemented share is of the last N days"
    )

    # admin
    admin_host: str = Field("127.0.0.1", description="Admin bind address")
    admin_port: int = Field(8000, description="Admin port")
    admin_secret: str | None = Field(
        None,
        min_length=32,
        description="Signs the admin's CSRF tokens; the same on every admin instance "
        "(default: generated once into <data dir>/admin.secret)",
    )
    admin_session_s: int = Field(
        8 * 3600, ge=60, description="An admin session ends after this long without a request"
    )
    admin_cookie_secure: bool = Field(
        False, description="Send the admin's cookies over HTTPS only (behind a TLS proxy)"
    )
    admin_login_attempts: int = Field(
        5,
        ge=1,
        description="Failed logins allowed per user name (four times as many per client "
        "address) in OMSX_ADMIN_LOGIN_WINDOW_S; then logins are refused with 429 until "
        "the window passes",
    )
    admin_login_window_s: int = Field(
        900, ge=1, description="The window of OMSX_ADMIN_LOGIN_ATTEMPTS, seconds"
    )
    metrics_token: str | None = Field(
        None,
        min_length=16,
        description="When set, /metrics answers only requests with "
        "'Authorization: Bearer <token>' (default: open, like /health)",
    )

    # logging
    log_level: str = Field("INFO", description="Minimum log level")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto = JSON unless stderr is a terminal"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        time_zone(name)  # ValueError naming it when unknown
        return name

    @property
    def zone(self) -> ZoneInfo:
        """The region's time zone (``OMSX_TIMEZONE``)."""
        return time_zone(self.timezone)

    def today(self) -> date:
        """The region's date now, not the server's."""
        return datetime.now(self.zone).date()

    def local_date(self, moment: datetime) -> date:
        """The region's date at ``moment``; a naive one is UTC (SQLite gives those back)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone).date()

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'omsx.db').as_posix()}"
        if self.blob_dir is None:
            self.blob_dir = self.data_dir / "blobs"
        return self

    @property
    def blobs(self) -> Path:
        assert self.blob_dir is not None  # set by _derive_paths
        return self.blob_dir

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=8)
def time_zone(name: str) -> ZoneInfo:
    """The time zone of an IANA name (``Europe/Saratov``); ``ValueError`` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone «{name}»: an IANA name such as Europe/Saratov"
        ) from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built once (tests call ``get_settings.cache_clear()``)."""
    return Settings()
