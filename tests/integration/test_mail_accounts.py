"""An IMAP account with a wrong password, against real Dovecot and Redis: the poll actor
records a permanent failure (not retried by Dramatiq), ``/healthz`` and both metrics show it,
and the other account keeps being fetched; once the password is right the failure clears."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY

from appliance import metrics_db
from appliance.api.app import AppContext, check_health
from appliance.errors import MailAuthError, MailServerError
from appliance.jobs import actors
from appliance.mail import status as mail_status
from appliance.settings import Settings
from appliance.store.db import Database
from tests.integration.dovecot import Dovecot

pytestmark = pytest.mark.integration

BAD_ENV = "APPLIANCE_TEST_BAD_IMAP_PASSWORD"


def _failed_gauge(account: str) -> float | None:
    return REGISTRY.get_sample_value("appliance_mail_account_failed", {"account": account})


def test_wrong_password_fails_for_good_and_the_others_go_on(
    dovecot: Dovecot, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        dovecot.append(
            f"From: s{n}@example.com\r\nSubject: Offer {n}\r\n\r\nNails {n} boxes\r\n".encode(),
            folder="Accounts",
        )
    good = dovecot.account(name="good", folders=["Accounts"]).model_dump()
    bad = dovecot.account(name="bad", folders=["Accounts"], password_env=BAD_ENV).model_dump()
    monkeypatch.setenv(BAD_ENV, "not-the-password-42")
    settings = Settings(
        redis={"url": redis_url, "namespace": "acct"},
        paths={"data_dir": str(tmp_path / "data")},
        accounts=[bad, good],
    )
    _, rt = actors.connect(settings, poller=True)
    client = redis.Redis.from_url(redis_url)

    # Dramatiq would not retry it: the actor's rule says no for a permanent error...
    retry_when = rt.actors["poll"].options["retry_when"]
    assert retry_when(0, MailAuthError("x")) is False
    assert retry_when(0, MailServerError("x")) is True and retry_when(3, OSError()) is False
    # ... and the actor does not even raise: the failure is recorded instead.
    actors.poll("bad")
    actors.poll("good")
    state = mail_status.read(client, "acct", ["bad", "good"])
    assert state["bad"]["status"] == "failed" and state["bad"]["code"] == "mail_auth"
    assert "authentication failed" in state["bad"]["error"]
    assert "not-the-password-42" not in str(state)
    assert state["good"]["status"] == "ok"
    assert _failed_gauge("bad") == 1 and _failed_gauge("good") == 0
    # The good account's mails were handed to the DB owner (the store queue).
    assert REGISTRY.get_sample_value("appliance_mails_fetched_total", {"account": "good"}) == 3
    assert not REGISTRY.get_sample_value("appliance_mails_fetched_total", {"account": "bad"})

    # The server's view: /healthz and /metrics read the same state from Redis.
    db = Database.open(None)
    try:
        ctx = AppContext(settings=settings, db=db, redis=client)
        health = check_health(ctx)
        assert health["status"] == "degraded"
        assert health["checks"]["mail"]["status"] == "failed"
        assert "bad" in health["checks"]["mail"]["error"]
        assert health["checks"]["mail"]["accounts"]["good"]["status"] == "ok"
        scrape = metrics_db.generate(metrics_db.server_sources(settings, db, client)).decode()
        assert 'appliance_mail_account_ok{account="bad"} 0.0' in scrape
        assert 'appliance_mail_account_ok{account="good"} 1.0' in scrape

        # A second poll fails the same way, still without raising; "since" stays.
        since = state["bad"]["since"]
        actors.poll("bad")
        assert mail_status.read(client, "acct", ["bad"])["bad"]["since"] == since

        # The password fixed: the next poll clears the failure.
        monkeypatch.setenv(BAD_ENV, dovecot.password)
        actors.poll("bad")
        assert mail_status.read(client, "acct", ["bad"])["bad"]["status"] == "ok"
        assert _failed_gauge("bad") == 0
        assert check_health(ctx)["checks"]["mail"]["status"] == "ok"
    finally:
        db.close()
