"""Redis bookkeeping that keeps the scheduler from doubling work and caps poison mails.

All keys live under ``<redis.namespace>:`` beside the poller's cursors:

- ``poll:queued:<account>``: a poll of the account is queued (``SET NX`` with a TTL when the
  scheduler or IMAP IDLE sends one, deleted when the poll actor starts). At most one poll per
  account waits in the queue, however slow the ``mail`` queue is.
- ``extract:unfinished:<mail_id>``: extraction attempts of a mail that started and did not
  finish. The extract actor increments it before any work and decrements it when the attempt
  ends normally (an offer, a recorded error, a retry); an attempt that crashed the worker, was
  SIGKILLed or hit the actor's time limit leaves it raised; a final outcome drops the key. It
  survives worker restarts and stuck-mail sweeps; at ``worker.poison_attempts`` the mail is
  failed as ``poison_mail``.
- ``extract:suspect-lock``: a mail with an unfinished attempt behind it is a suspect and is
  extracted only while holding this lock, one suspect at a time across all workers, so a mail
  that kills its worker takes a given other mail down at most once (that mail is then a
  suspect itself, and suspects never run beside each other).

Whether an extraction is still queued is read from the broker itself
(``broker.pending_extractions``), not from a marker that could outlive or miss its message.
After a Redis data loss these keys are gone with the queues; the scheduler notices and
re-queues every waiting mail (the attempt counts start again from zero).
"""

from __future__ import annotations

import threading
import uuid

import redis

# An attempt counter outlives any actor time limit and any backlog; it is refreshed per start.
UNFINISHED_TTL_S = 7 * 24 * 3600
# The suspect lock: a holder refreshes it every third of this; a crashed holder frees it after.
SUSPECT_LOCK_TTL_S = 10.0
POISON_CODE = "poison_mail"


def poll_key(ns: str, account: str) -> str:
    return f"{ns}:poll:queued:{account}"


def unfinished_key(ns: str, mail_id: int) -> str:
    return f"{ns}:extract:unfinished:{mail_id}"


def suspect_lock_key(ns: str) -> str:
    return f"{ns}:extract:suspect-lock"


# --- polls -------------------------------------------------------------------------------


def claim_poll(client: redis.Redis, ns: str, account: str, ttl_s: float) -> bool:
    """True when no poll of ``account`` is queued (and marks one as queued now): send it.

    False while one waits: sending another would only pile polls up behind a slow queue. The
    TTL bounds how long a lost poll message can block the account's next one.
    """
    return bool(client.set(poll_key(ns, account), "1", nx=True, px=max(1, int(ttl_s * 1000))))


def poll_started(client: redis.Redis, ns: str, account: str) -> None:
    """The queued poll runs now: the next one may be queued (new mail may come meanwhile)."""
    client.delete(poll_key(ns, account))


# --- extraction attempts -----------------------------------------------------------------


def unfinished_attempts(client: redis.Redis, ns: str, mail_id: int) -> int:
    """Attempts of this mail that started and never finished (crash, kill, time limit)."""
    raw = client.get(unfinished_key(ns, mail_id))
    return int(raw) if raw is not None else 0


def unfinished_many(client: redis.Redis, ns: str, mail_ids: list[int]) -> dict[int, int]:
    """``unfinished_attempts`` of several mails in one round trip."""
    if not mail_ids:
        return {}
    raws = client.mget([unfinished_key(ns, m) for m in mail_ids])
    return {m: int(r) if r is not None else 0 for m, r in zip(mail_ids, raws, strict=True)}


def start_attempt(client: redis.Redis, ns: str, mail_id: int) -> int:
    """Count an attempt before any work on the mail (so a crash counts); returns the count."""
    key = unfinished_key(ns, mail_id)
    pipe = client.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, UNFINISHED_TTL_S)
    n, _ = pipe.execute()
    return int(n)


def finish_attempt(client: redis.Redis, ns: str, mail_id: int, *, done: bool) -> None:
    """The attempt ended normally (an outcome was sent): it does not count against the mail.

    ``done``: the outcome is final (an offer, no offer, failed for good): the mail's count is
    dropped, earlier crashes included. Otherwise (a retry follows) only this attempt is.
    """
    key = unfinished_key(ns, mail_id)
    if done or int(client.decr(key)) <= 0:
        client.delete(key)


def reset_attempts(client: redis.Redis, ns: str, mail_id: int) -> None:
    """Forget a mail's unfinished attempts (an operator asked to try it again)."""
    client.delete(unfinished_key(ns, mail_id))


def poison_message(attempts: int) -> str:
    return (
        f"extraction started {attempts} times and never finished (the worker crashed, was killed"
        " or hit the time limit); not tried again automatically: retry it from the API or"
        " dashboard once the cause is fixed"
    )


class SuspectLock:
    """The one lock suspects take to run, refreshed by a thread while held.

    Not reentrant; ``acquire`` never blocks. A holder that dies frees it after
    ``SUSPECT_LOCK_TTL_S`` at most.
    """

    def __init__(self, client: redis.Redis, ns: str, ttl_s: float = SUSPECT_LOCK_TTL_S) -> None:
        self.client = client
        self.key = suspect_lock_key(ns)
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._thread = threading.Thread(target=self._refresh, name="suspect-lock", daemon=True)
        self._thread.start()
        return True

    def remaining_ms(self) -> int:
        """Milliseconds until the current holder's lock expires (0: free or no expiry)."""
        return max(0, int(self.client.pttl(self.key)))

    _REFRESH = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501

    def _refresh(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if not self.client.eval(self._REFRESH, 1, self.key, self.token, self.ttl_ms):
                    return  # lost (expired while Redis was unreachable): nothing to refresh
            except redis.RedisError:
                continue

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.client.eval(self._RELEASE, 1, self.key, self.token)
