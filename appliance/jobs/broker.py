"""The Dramatiq broker over Redis, configured once from the settings."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from appliance.logs import install_middleware
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
    install_middleware(broker)  # mail/offer ids on every log line of an actor
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


@dataclass(frozen=True)
class QueueStats:
    """One queue as the broker holds it: ready or in flight, delayed (retry backoff), dead,
    and the age of its oldest message (ready, in flight or delayed; 0 when empty)."""

    depth: int
    delayed: int
    dead: int
    oldest_age_s: float


def queue_stats(
    client: redis.Redis, namespace: str, queues: Iterable[str], now_ms: float | None = None
) -> dict[str, QueueStats]:
    """Depth and age of the oldest message per queue, read from Dramatiq's Redis layout.

    ``<ns>:<q>`` lists the ids of ready messages (oldest first), ``<ns>:<q>.msgs`` holds the
    payloads of ready and fetched-not-acked ones, ``<ns>:__acks__.<worker>.<q>`` the fetched
    ids per live worker (``<ns>:__heartbeats__``); the same for ``<q>.DQ`` (delayed). The age
    comes from ``message_timestamp`` (ms, kept across retries) of the list heads and the
    fetched messages: a bounded number of reads, however long the queue.
    """
    now = time.time() * 1000 if now_ms is None else now_ms
    workers = [w.decode() if isinstance(w, bytes) else str(w)
               for w in client.zrange(f"{namespace}:__heartbeats__", 0, -1)]  # fmt: skip
    out: dict[str, QueueStats] = {}
    for q in sorted(queues):
        oldest: float | None = None
        sizes: list[int] = []
        for name in (q, f"{q}.DQ"):
            full = f"{namespace}:{name}"
            sizes.append(int(client.hlen(f"{full}.msgs")))
            ids = [i for i in (client.lindex(full, 0),) if i is not None]
            for w in workers:
                fetched: Any = client.srandmember(f"{namespace}:__acks__.{w}.{name}", 64)
                ids.extend(fetched or [])
            payloads = client.hmget(f"{full}.msgs", ids) if ids else []
            for raw in payloads:
                if raw is None:
                    continue
                try:
                    ts = float(json.loads(raw)["message_timestamp"])
                except (ValueError, KeyError, TypeError):
                    continue
                oldest = ts if oldest is None else min(oldest, ts)
        dead = int(client.hlen(f"{namespace}:{q}.XQ.msgs"))
        age = max(0.0, (now - oldest) / 1000) if oldest is not None else 0.0
        out[q] = QueueStats(depth=sizes[0], delayed=sizes[1], dead=dead, oldest_age_s=age)
    return out


def pending_extractions(client: redis.Redis, namespace: str) -> set[int]:
    """Ids of the mails the broker still holds work for: an ``extract`` message ready, in
    flight (fetched, not acknowledged; a dead worker's come back) or delayed for a retry, or a
    ``save_extraction`` outcome not yet stored. Such a mail is waiting, not lost.

    Read from Dramatiq's Redis layout (the ``<q>.msgs`` hashes, see ``queue_stats``) in one
    MULTI, so a message moving between queues (ready → delayed, extract → store) is seen in
    one place or the other. Dead-lettered messages (``.XQ``) do not count: that work is lost.
    """
    names = [f"{namespace}:{q}.msgs" for q in
             (QUEUE_EXTRACT, f"{QUEUE_EXTRACT}.DQ", QUEUE_STORE, f"{QUEUE_STORE}.DQ")]  # fmt: skip
    pipe = client.pipeline(transaction=True)
    for name in names:
        pipe.hvals(name)
    out: set[int] = set()
    for payloads in pipe.execute():
        for raw in payloads:
            try:
                msg = json.loads(raw)
                args = msg.get("args") or []
                if msg.get("actor_name") == "extract":
                    out.add(int(args[0]))
                elif msg.get("actor_name") == "save_extraction":
                    out.add(int(args[0]["mail_id"]))
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                continue
    return out
