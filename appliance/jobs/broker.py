"""The Dramatiq broker over Redis, configured once from the settings."""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from appliance.settings import Settings

QUEUE_MAIL = "mail"
QUEUE_EXTRACT = "extract"
QUEUE_STORE = "store"
QUEUE_OUTBOX = "outbox"
WORKER_QUEUES = {QUEUE_MAIL, QUEUE_EXTRACT, QUEUE_OUTBOX}
SERVER_QUEUES = {QUEUE_STORE}


def make_broker(settings: Settings) -> RedisBroker:
    """A Redis broker in the appliance's namespace, set as Dramatiq's global broker."""
    broker = RedisBroker(
        url=settings.redis.url,
        namespace=f"{settings.redis.namespace}-dq",
        heartbeat_timeout=settings.redis.heartbeat_timeout_ms,
        maintenance_chance=settings.redis.maintenance_chance,
    )
    broker.add_middleware(CurrentMessage())
    dramatiq.set_broker(broker)
    return broker


def redis_client(settings: Settings) -> redis.Redis:
    """A plain Redis client (cursors, locks, health checks)."""
    return redis.Redis.from_url(settings.redis.url, socket_timeout=5, socket_connect_timeout=3)


def queue_depths(broker: RedisBroker) -> dict[str, int]:
    """Messages waiting per queue (for metrics and the health endpoint)."""
    client = broker.client
    out: dict[str, int] = {}
    for q in sorted(broker.get_declared_queues()):
        out[q] = int(client.hlen(f"{broker.namespace}:{q}.msgs"))
    return out
