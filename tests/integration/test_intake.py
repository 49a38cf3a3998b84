"""The intake API on real components: ``POST /api/v1/mails`` (raw RFC 822) and
``POST /api/v1/messages`` (a web form's or a messenger bridge's JSON) → blob store → server
(DuckDB) → worker (vLLM extraction) → offers and the supplier dialogue; one mail per
idempotency key or content; 413/400 with the reason; 401/403 by scope.

Three mails reach the model; the refusals never record anything."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.services import Appliance, RedisServer, running, wait_for

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
TERMINAL = {"extracted", "no_offer", "failed"}
MAX_BYTES = 200_000

pytestmark = [pytest.mark.integration, pytest.mark.llm]


class Intake(Appliance):
    intake_token: str = ""
    read_token: str = ""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, vllm_server: str) -> Iterator[Intake]:
    work = tmp_path_factory.mktemp("intake")
    redis = RedisServer(work)
    env = {
        "APPLIANCE_REDIS__URL": redis.url,
        "APPLIANCE_LLM__BASE_URL": vllm_server,
        "APPLIANCE_INTAKE__MAX_BYTES": str(MAX_BYTES),
    }
    appliance = Intake(work, env)
    # Tokens are made by the CLI while the server is stopped.
    appliance.intake_token = appliance.create_token("web-form", "intake")
    appliance.read_token = appliance.create_token("reader", "read")
    with running(appliance, redis):
        yield appliance


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post(app: Intake, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = {**_bearer(token if token is not None else app.intake_token),
               **kwargs.pop("headers", {})}  # fmt: skip
    return httpx.post(f"{app.url}{path}", headers=headers, timeout=30, **kwargs)


def _settled(app: Intake, mail_id: int) -> dict[str, Any] | None:
    mail: dict[str, Any] = app.get(f"/api/v1/mails/{mail_id}")
    return mail if mail["state"] in TERMINAL else None


def _offer_of(app: Intake, mail_id: int) -> dict[str, Any]:
    mail = wait_for(f"mail {mail_id} to be extracted", lambda: _settled(app, mail_id), 300)
    assert mail["state"] == "extracted", mail
    assert mail["offer_id"], mail
    offer: dict[str, Any] = app.get(f"/api/v1/offers/{mail['offer_id']}")
    assert mail_id in offer["source_mail_ids"]
    return offer


def _mail_total(app: Intake) -> int:
    return int(app.get("/api/v1/mails", limit=1)["total"])


def test_rfc822_upload_becomes_an_offer_once(app: Intake) -> None:
    raw = (SAMPLES / "01-en-nails.eml").read_bytes()
    first = _post(app, "/api/v1/mails", content=raw, headers={"Content-Type": "message/rfc822"})
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["duplicate"] is False and body["state"] == "received"
    assert body["key"].startswith("api/rfc822/0/")
    again = _post(app, "/api/v1/mails", content=raw)
    assert again.status_code == 200, again.text
    assert again.json()["mail_id"] == body["mail_id"] and again.json()["duplicate"] is True
    offer = _offer_of(app, body["mail_id"])
    assert offer["supplier"]["email"] == "greta.holm@nordicfasteners.example"
    assert offer["items"] and all(i["product_name"] for i in offer["items"])
    mail = app.get(f"/api/v1/mails/{body['mail_id']}")
    assert mail["keys"] == [body["key"]] and mail["account"] == "api"
    assert _mail_total(app) == 1


WEBFORM = {
    "channel": "webform",
    "sender": {"email": "Anna.Berg@boltworks.example", "name": "Anna Berg"},
    "subject": "Offer: hex bolts",
    "text": (
        "Hello,\n\nwe can offer:\n"
        "- Hex bolt M8x40 DIN 933, 1000 pcs, 0.12 EUR per piece\n"
        "- Hex nut M8 DIN 934, 1000 pcs, 0.05 EUR per piece\n\n"
        "Best regards,\nAnna Berg\nBoltworks GmbH"
    ),
    "attachments": [
        {
            "filename": "terms.txt",
            "content_base64": base64.b64encode(b"Payment: 30 days net.\n").decode(),
        }
    ],
    "idempotency_key": "form-2026-0001",
}


def test_webform_message_becomes_an_offer_and_is_asked_by_email(app: Intake) -> None:
    first = _post(app, "/api/v1/messages", json=WEBFORM)
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["key"] == "api/webform/0/key:form-2026-0001"
    # The same key again (a retried form post): the same mail, nothing new.
    again = _post(app, "/api/v1/messages", json=WEBFORM)
    assert again.status_code == 200 and again.json()["mail_id"] == body["mail_id"]
    assert again.json()["duplicate"] is True
    offer = _offer_of(app, body["mail_id"])
    assert offer["supplier"]["email"] == "anna.berg@boltworks.example"
    names = " ".join(i["product_name"] for i in offer["items"])
    assert "Hex bolt" in names, offer["items"]
    # No lead time: the sender is asked by e-mail, at the address the form gave.
    assert offer["state"] == "awaiting_supplier", offer
    emails = app.get("/api/v1/outbox", offer_id=offer["id"])["items"]
    assert [(e["kind"], e["to_addr"]) for e in emails] == [
        ("clarification", "anna.berg@boltworks.example")
    ]
    raw = httpx.get(
        f"{app.url}/api/v1/mails/{body['mail_id']}/raw", headers=app.headers, timeout=10
    ).content
    assert b"X-Appliance-Channel: webform" in raw and b'filename="terms.txt"' in raw


MESSENGER = {
    "channel": "telegram",
    "sender": {"name": "Ivan", "id": "tg:5501"},
    "text": "Good day! Offer: washers M10, 2000 pcs, 0.03 USD each.",
}


def test_message_without_address_goes_to_review_with_the_reason(app: Intake) -> None:
    before = _mail_total(app)
    first = _post(app, "/api/v1/messages", json=MESSENGER)
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["key"].startswith("api/telegram/0/json:")
    # No client key: the same content again is the same mail.
    again = _post(app, "/api/v1/messages", json=MESSENGER)
    assert again.status_code == 200 and again.json()["mail_id"] == body["mail_id"]
    assert _mail_total(app) == before + 1
    offer = _offer_of(app, body["mail_id"])

    def reviewed() -> dict[str, Any] | None:
        o: dict[str, Any] = app.get(f"/api/v1/offers/{offer['id']}")
        return o if o["state"] == "needs_review" else None

    offer = wait_for("the offer to go to review", reviewed, 30)
    why = "'telegram' channel without an e-mail address"
    assert any(why in (t["reason"] or "") for t in offer["history"]), offer["history"]
    emails = app.get("/api/v1/outbox", offer_id=offer["id"])["items"]
    assert emails and all(e["state"] == "suppressed" and why in e["reason"] for e in emails)


def test_oversize_bodies_get_413_naming_the_limit(app: Intake) -> None:
    before = _mail_total(app)
    big = b"From: a@b.example\r\nSubject: big\r\n\r\n" + b"x" * (MAX_BYTES + 1)
    r = _post(app, "/api/v1/mails", content=big)
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "payload_too_large" and str(MAX_BYTES) in r.json()["message"]
    # Without a Content-Length (chunked): refused while it streams in.
    r = _post(app, "/api/v1/mails", content=iter([big[:100_000], big[100_000:]]))
    assert r.status_code == 413, r.text
    msg = {**MESSENGER, "text": "y" * int(MAX_BYTES * 1.5)}
    r = _post(app, "/api/v1/messages", json=msg)
    assert r.status_code == 413 and str(MAX_BYTES) in r.json()["message"], r.text
    # Under the JSON limit, but the mail built from it (base64 attachment) is over.
    blob = base64.b64encode(b"z" * (MAX_BYTES - 1000)).decode()
    msg = {**MESSENGER, "attachments": [{"filename": "big.bin", "content_base64": blob}]}
    r = _post(app, "/api/v1/messages", json=msg)
    assert r.status_code == 413 and "the mail built" in r.json()["message"], r.text
    assert _mail_total(app) == before


@pytest.mark.parametrize(
    ("path", "content", "reason"),
    [
        ("/api/v1/mails", b"", "empty body"),
        ("/api/v1/mails", b"hello, this is no mail", "not an RFC 822 message"),
        ("/api/v1/mails", b"From a@b.example Mon Jan 1\nFrom: a@b.example\n\nx", "mbox"),
        ("/api/v1/mails", b"Subject: no sender\r\n\r\ntext", "no From header"),
        ("/api/v1/messages", b"{not json", "not valid JSON"),
        ("/api/v1/messages", b"[1, 2]", "must be a JSON object"),
        ("/api/v1/messages", b'{"channel": "webform", "text": "  "}', "missing text"),
        ("/api/v1/messages", b'{"channel": "Web Form!", "text": "x"}', "channel"),
        (
            "/api/v1/messages",
            b'{"channel": "webform", "text": "x", "sender": {"email": "not-an-address"}}',
            "sender.email: not an e-mail address",
        ),
        (
            "/api/v1/messages",
            b'{"channel": "webform", "text": "x",'
            b' "attachments": [{"filename": "a.pdf", "content_base64": "%%%"}]}',
            "attachments[0].content_base64 is not valid base64",
        ),
    ],
)
def test_malformed_bodies_get_400_with_the_reason(
    app: Intake, path: str, content: bytes, reason: str
) -> None:
    r = _post(app, path, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid_request" and reason in r.json()["message"], r.json()


def test_intake_needs_a_token_with_the_intake_scope(app: Intake) -> None:
    raw = (SAMPLES / "01-en-nails.eml").read_bytes()
    for path, kwargs in (("/api/v1/mails", {"content": raw}), ("/api/v1/messages", {"json": {}})):
        r = httpx.post(f"{app.url}{path}", timeout=10, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 401 and r.json()["code"] == "unauthorized", r.text
        r = _post(app, path, app.read_token, **kwargs)
        assert r.status_code == 403 and "'intake' scope" in r.json()["message"], r.text
    # An intake token takes mail in, and does nothing else.
    r = httpx.get(f"{app.url}/api/v1/mails", headers=_bearer(app.intake_token), timeout=10)
    assert r.status_code == 403
