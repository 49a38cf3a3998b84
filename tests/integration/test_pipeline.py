"""The whole slice on real components: Dovecot INBOX → worker (IMAP) → Redis → server (DuckDB)
→ worker (vLLM extraction) → server → ``GET /api/v1/offers``.

The tests of this module run in order and share one appliance: each step builds on the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.dovecot import PASSWORD_ENV, Dovecot
from tests.integration.services import Appliance, RedisServer, account_env, running, wait_for

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
TERMINAL = {"extracted", "no_offer", "failed"}

pytestmark = [pytest.mark.integration, pytest.mark.llm]


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, dovecot: Dovecot, vllm_server: str
) -> Iterator[Appliance]:
    work = tmp_path_factory.mktemp("appliance")
    redis = RedisServer(work)
    acc = dovecot.account("imap", name="suppliers")
    env = {
        "APPLIANCE_REDIS__URL": redis.url,
        "APPLIANCE_LLM__BASE_URL": vllm_server,
        **account_env(acc, PASSWORD_ENV, dovecot.password),
    }
    appliance = Appliance(work, env)
    with running(appliance, redis):
        yield appliance


def _mails(app: Appliance, **params: object) -> dict:
    return app.get("/api/v1/mails", limit=500, **params)


def _settled(app: Appliance, n: int) -> dict | None:
    page = _mails(app)
    if page["total"] >= n and all(m["state"] in TERMINAL for m in page["items"]):
        return page
    return None


def test_mail_appended_to_inbox_becomes_an_offer(app: Appliance, dovecot: Dovecot) -> None:
    dovecot.append((SAMPLES / "01-en-nails.eml").read_bytes())
    page = wait_for("the mail to be extracted", lambda: _settled(app, 1), 300)
    mail = page["items"][0]
    assert mail["state"] == "extracted", mail
    offers = app.get("/api/v1/offers")
    assert offers["total"] == 1
    offer = app.get(f"/api/v1/offers/{offers['items'][0]['id']}")
    assert offer["source_mail_ids"] == [mail["id"]]
    assert offer["supplier"]["email"] == "greta.holm@nordicfasteners.example"
    assert offer["language"] == "en"
    assert offer["items"] and all(i["product_name"] for i in offer["items"])
    detail = app.get(f"/api/v1/mails/{mail['id']}")
    assert detail["offer_id"] == offer["id"]
    assert detail["keys"][0].startswith("suppliers/INBOX/")
    assert [e["outcome"] for e in detail["events"]][:2] == ["recorded", "extracted"]
    # Fetched with BODY.PEEK[]: the mail is still unread on the server.
    assert all(b"\\Seen" not in f for f in dovecot.flags().values())


def test_restarting_worker_and_server_creates_no_second_row(
    app: Appliance, dovecot: Dovecot
) -> None:
    app.stop("worker")
    app.stop("server")
    app.start("server")
    app.start("worker")
    # Several poll cycles pass; the mail is fetched again at most, never recorded twice.
    dovecot.append((SAMPLES / "03-ru-cp1251-cable.eml").read_bytes())
    page = wait_for("the second mail", lambda: _settled(app, 2), 300)
    assert page["total"] == 2
    assert app.get("/api/v1/offers")["total"] <= 2
    ru = next(m for m in page["items"] if "kp-2211" in (m["message_id"] or ""))
    assert ru["subject"].startswith("Коммерческое предложение")


def test_uidvalidity_change_refetches_without_duplicates(app: Appliance, dovecot: Dovecot) -> None:
    before = _mails(app)
    old_validity = dovecot.uidvalidity()
    new_validity = dovecot.reset_uidvalidity()
    assert new_validity != old_validity

    def rekeyed() -> bool:
        keys = [k for m in before["items"] for k in app.get(f"/api/v1/mails/{m['id']}")["keys"]]
        return any(f"/{new_validity}/" in k for k in keys)

    wait_for("the mails to be seen under the new UIDVALIDITY", rekeyed, 60)
    after = _mails(app)
    assert after["total"] == before["total"]
    assert app.get("/api/v1/offers")["total"] == app.get("/api/v1/offers")["total"]


def test_failed_extraction_is_visible_and_retried(app: Appliance, dovecot: Dovecot) -> None:
    # A worker whose LLM is unreachable: the failure is recorded with its reason, retried
    # with backoff, and the mail ends `failed` when the retries are spent.
    app.stop("worker")
    app.start(
        "worker",
        {
            "APPLIANCE_LLM__BASE_URL": "http://127.0.0.1:9/v1",
            "APPLIANCE_LLM__MAX_RETRIES": "0",
            "APPLIANCE_WORKER__MAX_RETRIES": "1",
            "APPLIANCE_WORKER__MIN_BACKOFF_MS": "500",
            "APPLIANCE_WORKER__MAX_BACKOFF_MS": "1000",
        },
    )
    # A mail the model must read (the chairs' priced list needs no model call at all).
    dovecot.append((SAMPLES / "05-en-boxes-no-price.eml").read_bytes())
    failed = wait_for("the mail to fail", lambda: _mails(app, state="failed")["items"], 120)
    mail = app.get(f"/api/v1/mails/{failed[0]['id']}")
    assert mail["error"]["code"] == "llm_unavailable"
    assert mail["attempts"] == 2
    assert [e["outcome"] for e in mail["events"] if e["stage"] == "extract"] == ["retry", "failed"]
    # With the LLM back, a retry (dashboard/API) extracts it.
    app.stop("worker")
    app.start("worker")
    app.post(f"/api/v1/mails/{mail['id']}/retry")
    done = wait_for(
        "the retried mail",
        lambda: app.get(f"/api/v1/mails/{mail['id']}")["state"] in ("extracted", "no_offer"),
        300,
    )
    assert done
    assert app.get(f"/api/v1/mails/{mail['id']}")["error"] is None


def test_health_and_metrics(app: Appliance) -> None:
    health = app.get("/healthz")
    assert {k: v["status"] for k, v in health["checks"].items()} == {
        "redis": "ok", "llm": "ok", "db": "ok", "mail": "ok"
    }  # fmt: skip
    import httpx

    text = httpx.get(f"{app.url}/metrics").text
    assert 'appliance_mails{account="suppliers",state="extracted"}' in text
    assert "appliance_store_results_total" in text
    worker_metrics = httpx.get(f"http://127.0.0.1:{app.env['APPLIANCE_WORKER__METRICS_PORT']}/")
    assert "appliance_stage_seconds" in worker_metrics.text
    assert app.get("/api/schema/openapi.json")["paths"]["/api/v1/offers"]


def test_import_of_an_mbox_records_each_mail_once(app: Appliance, tmp_path: Path) -> None:
    import mailbox
    import subprocess
    import sys

    box_path = tmp_path / "backfill.mbox"
    box = mailbox.mbox(str(box_path))
    for name in ("04-ru-koi8-shelves.eml", "06-en-newsletter.eml"):
        box.add((SAMPLES / name).read_bytes())
    box.flush()
    before = _mails(app)["total"]
    for _ in range(2):  # the second import is a no-op: mails are keyed by content
        out = subprocess.run(
            [sys.executable, "-m", "appliance.cli", "import", str(box_path)],
            env=app.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert "queued 2 mail(s)" in out.stdout
    page = wait_for("the imported mails", lambda: _settled(app, before + 2), 600)
    assert page["total"] == before + 2
    ru = next(m for m in page["items"] if m["message_id"] == "<st200@sklad-tech.example>")
    detail = app.get(f"/api/v1/mails/{ru['id']}")
    assert detail["keys"][0].startswith("import/import/0/")
    if detail["state"] != "failed":
        assert detail["language"] == "ru"
