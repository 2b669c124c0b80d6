"""Provisioning of OMS_IN, OMS_OUT and the OMS_PACKAGES bucket (idempotent).

The bucket's stream ``OBJ_OMS_PACKAGES`` is made here as nats-py's
``create_object_store`` makes it, except that it refuses ``Nats-Rollup`` headers: any
publish into the bucket could carry one, and ``all`` would purge every package in
flight (docs/nats.md "The object store"). ``create_object_store`` cannot set that, so
the stream is created (or an existing bucket updated in place) with the stream API.
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError

from messages.subjects import IN_ALL, OUT_ALL
from omsx.logs import get_logger
from omsx.settings import Settings

IN_STREAM = "OMS_IN"
OUT_STREAM = "OMS_OUT"
BUCKET = "OMS_PACKAGES"
OBJ_STREAM = f"OBJ_{BUCKET}"  # the bucket's stream, as nats-py names it
DAY = 24 * 3600

log = get_logger("messages.streams")


def stream_configs(settings: Settings) -> list[StreamConfig]:
    return [
        StreamConfig(
            name=IN_STREAM,
            subjects=[IN_ALL],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_age=float(settings.in_retention_days * DAY),
            duplicate_window=float(settings.in_duplicate_window_s),
            num_replicas=settings.stream_replicas,
            description="Inbound exchange packages (exchange.md §2)",
        ),
        StreamConfig(
            name=OUT_STREAM,
            subjects=[OUT_ALL],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_age=float(settings.out_retention_days * DAY),
            duplicate_window=float(settings.out_duplicate_window_s),
            num_replicas=settings.stream_replicas,
            description="Protocols, forwards and extracts for participants",
        ),
        StreamConfig(
            name=OBJ_STREAM,
            subjects=[f"$O.{BUCKET}.C.>", f"$O.{BUCKET}.M.>"],  # chunks, metas
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.NEW,
            # a delivery in OMS_OUT may name an object: it lives as long as the delivery
            max_age=float(max(settings.in_retention_days, settings.out_retention_days) * DAY),
            max_bytes=-1,
            max_consumers=-1,
            num_replicas=settings.stream_replicas,
            allow_direct=True,
            allow_rollup_hdrs=False,  # nats-py's object store allows them; we do not
            description="Packages above the message limit",
        ),
    ]


async def provision(js: JetStreamContext, settings: Settings) -> None:
    """Create or update the streams and the object store bucket's stream."""
    for config in stream_configs(settings):
        try:
            info = await js.stream_info(config.name or "")
        except NotFoundError:
            await js.add_stream(config)
            log.info("stream.created", stream=config.name)
            continue
        try:
            await js.update_stream(config)
        except BadRequestError as exc:  # e.g. storage type cannot change in place
            log.warning("stream.update_refused", stream=config.name, error=exc.description)
            if info.config.allow_rollup_hdrs and not config.allow_rollup_hdrs:
                # whatever else stays as it was, the bucket refuses rollups from now on
                await js.update_stream(info.config.evolve(allow_rollup_hdrs=False))
