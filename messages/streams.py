"""Provisioning of OMS_IN, OMS_OUT and the OMS_PACKAGES bucket (idempotent)."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError

from messages.subjects import IN_ALL, OUT_ALL
from omsx.logs import get_logger
from omsx.settings import Settings

IN_STREAM = "OMS_IN"
OUT_STREAM = "OMS_OUT"
BUCKET = "OMS_PACKAGES"
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
    ]


async def provision(js: JetStreamContext, settings: Settings) -> None:
    """Create or update the streams and the object store bucket."""
    for config in stream_configs(settings):
        try:
            await js.stream_info(config.name or "")
        except NotFoundError:
            await js.add_stream(config)
            log.info("stream.created", stream=config.name)
            continue
        try:
            await js.update_stream(config)
        except BadRequestError as exc:  # e.g. storage type cannot change in place
            log.warning("stream.update_refused", stream=config.name, error=exc.description)
    try:
        await js.object_store(BUCKET)
    except BucketNotFoundError:
        await js.create_object_store(
            BUCKET,
            ObjectStoreConfig(
                storage=StorageType.FILE,
                replicas=settings.stream_replicas,
                description="Packages above the message limit",
                ttl=float(settings.in_retention_days * DAY),
            ),
        )
        log.info("bucket.created", bucket=BUCKET)
