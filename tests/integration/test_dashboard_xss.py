"""Hostile mail content in the dashboard (headless Chromium, real server): script, event
handler, remote-load and template-injection payloads in a mail's HTML part, text part,
subject, sender name, product name and attachment file name, in what people type (a reviewer's
comment and reject reason, a webhook's name, an adapter) and in a failed mail's error run nothing
and load nothing, on every page that shows them (offers, review queue and /review/next,
suppliers, /mails, /outbox, /adapters, and the JSON the pages link to). A user name with markup
is refused. ``test_pages_escape_every_payload`` checks the same pages' HTML without a browser.

A loopback "attacker" HTTP server records every request; the payloads point at it
(``tests/integration/xss_payloads.py``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration import xss_payloads as xss
from tests.integration.browser import Watch, login
from tests.integration.seed import Seeder, add_user, mail
from tests.integration.services import Appliance, RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.browser]

USER, PASSWORD = "rita", "correct horse battery"


class Attacker:
    """An HTTP server on loopback that answers everything and records each request."""

    def __init__(self) -> None:
        hits: list[str] = []
        self.hits = hits

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                hits.append(f"{self.command} {self.path}")
                body = b"body{background:red}"
                self.send_response(200)
                self.send_header("Content-Type", "text/css")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def attacker() -> Iterator[Attacker]:
    a = Attacker()
    try:
        yield a
    finally:
        a.stop()


@dataclass
class Hostile:
    app: Appliance
    offer_id: int  # the payload offer, corrected with a payload comment
    supplier_id: int
    rejected_id: int  # a second payload offer, rejected with a payload reason
    mail_id: int
    failed_mail: int  # its error message is a payload


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, attacker: Attacker) -> Iterator[Hostile]:
    """An appliance whose offers came from mails full of payloads, with a payload webhook name,
    adapter, failed mail, comment and reject reason."""
    work = tmp_path_factory.mktemp("xss")
    redis = RedisServer(work)
    hook = {
        "name": xss.webhook_name(),
        "url": "http://127.0.0.1:9/hook",
        "events": ["offer.complete"],
    }
    app = Appliance(work, {"APPLIANCE_REDIS__URL": redis.url,
                           "APPLIANCE_PATHS__MODELS_DIR": str(work / "models"),
                           "APPLIANCE_WEBHOOKS": json.dumps([hook])})  # fmt: skip
    (work / "models" / "adapters" / xss.adapter_name()).mkdir(parents=True)
    (work / "data").mkdir(exist_ok=True)
    (work / "data" / "adapters.json").write_text(json.dumps({"active": None, "history": [
        {"at": "2026-11-01T10:00:00Z", "action": "promote", "adapter": xss.adapter_name(),
         "previous": None, "note": xss.comment()}]}))  # fmt: skip
    payloads = xss.html_payloads(attacker.origin)
    product = xss.product_name()
    text = (
        "Hello,\n\nour offer:\n"
        f"{product}: 100 pcs, unit price 2.50 EUR, total 250 EUR, lead time 7 days\n\n"
        + "\n".join(payloads)
        + "\n\nRegards\n"
    )
    html = (
        "<html><head>" + "".join(payloads[6:11]) + "</head><body>"
        f"<p>{product.replace('<', '&lt;')}: 100 pcs, 2.50 EUR</p>"
        + "".join(payloads)
        + "</body></html>"
    )
    attachments = [(xss.attachment_name(), "Price list\n" + "\n".join(payloads))]
    raw = mail(sender="evil@xss.example", name=xss.supplier_name(),
               subject=xss.subject(attacker.origin), text=text, html=html,
               attachments=attachments)  # fmt: skip
    answer = {
        "supplier": {"name": xss.supplier_name(), "email": "evil@xss.example"},
        "items": [{"product_name": product, "quantity": 100, "unit": "pcs", "unit_price": 2.5,
                   "currency": "EUR", "total_price": 250, "lead_time_days": 7}],
    }  # fmt: skip
    raw2 = mail(sender="evil@xss.example", name=xss.supplier_name(), subject="Second offer",
                text=text, attachments=attachments)  # fmt: skip
    with Seeder.for_appliance(app) as s:
        seeded = s.offer(raw, answer)
        second = s.offer(raw2, answer)
        supplier_id = s.db.scalar("SELECT supplier_id FROM offers WHERE id = ?", [seeded.offer_id])
        failed = s.failed(mail(sender="evil@xss.example", subject="Price list", text="see"),
                          message=xss.error_message())  # fmt: skip
    assert seeded.offer_id is not None and second.offer_id is not None
    add_user(app, USER, PASSWORD, role="admin")
    app.start("server")
    h = Hostile(app, int(seeded.offer_id), int(supplier_id), int(second.offer_id),
                seeded.mail_id, failed)  # fmt: skip
    try:
        # What people type, through the API as the dashboard's forms send it.
        fix = {"items": {"0": {"quantity": 120}}, "comment": xss.comment()}
        r = httpx.post(f"{app.url}/api/v1/offers/{h.offer_id}/corrections", json=fix,
                       headers=app.headers)  # fmt: skip
        assert r.status_code == 200, r.text
        r = httpx.post(f"{app.url}/api/v1/offers/{h.rejected_id}/reject", headers=app.headers,
                       json={"reason": xss.reject_reason()})  # fmt: skip
        assert r.status_code == 200, r.text
        # A user name with markup never exists.
        eve = {"name": xss.user_name(), "role": "reviewer", "password": PASSWORD}
        r = httpx.post(f"{app.url}/api/v1/users", json=eve, headers=app.headers)
        assert r.status_code == 400, r.text
        yield h
    finally:
        app.stop_all()
        redis.stop()


def _pages(h: Hostile) -> list[str]:
    return [
        f"/offers/{h.offer_id}", f"/offers/{h.rejected_id}", "/offers", "/review",
        "/review/next", "/", "/suppliers", f"/suppliers/{h.supplier_id}",
        "/offers?q=%3Cscript%3E", "/outbox", "/mails", "/mails?state=failed", "/adapters",
    ]  # fmt: skip


# JSON the pages link to (a mail's record with its attachments; the webhooks): shown as text.
def _json_pages(h: Hostile) -> list[str]:
    return [f"/api/v1/mails/{h.mail_id}", f"/api/v1/mails/{h.failed_mail}", "/api/v1/webhooks"]


def test_pages_escape_every_payload(hostile: Hostile) -> None:
    """Without a browser: no page's HTML holds a payload unescaped, and each typed payload is
    really shown (escaped) where it belongs."""
    h = hostile
    c = httpx.Client(base_url=h.app.url, headers=h.app.headers, timeout=30, follow_redirects=True)
    with c:
        html = {}
        for path in _pages(h):
            r = c.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("text/html"), path
            html[path] = r.text
            for payload in [*xss.typed(), *xss.html_payloads("http://127.0.0.1:9")[:6]]:
                assert payload not in r.text, (path, payload)
            assert "<script>window.__xss" not in r.text, path
        for path in _json_pages(h):
            r = c.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith(
                "application/json"
            ), path
            assert r.headers.get("x-content-type-options") == "nosniff", path
    esc = {
        p: p.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for p in xss.typed()
    }
    offer_page = html[f"/offers/{h.offer_id}"]
    assert esc[xss.comment()] in offer_page
    # The attachment's file name is in the mail's record (JSON; the offer page shows its text).
    attachments = h.app.get(f"/api/v1/mails/{h.mail_id}")["attachments"]
    assert xss.attachment_name() in json.dumps(attachments, ensure_ascii=False), attachments
    rejected = html[f"/offers/{h.rejected_id}"]
    assert "too dear &lt;img" in rejected
    assert "bad answer &lt;script&gt;" in html["/mails?state=failed"]
    assert "evil &lt;img" in html["/adapters"]
    assert "checked &lt;script&gt;" in html["/adapters"]


def test_payloads_run_nothing_and_load_nothing(
    browser: Any, hostile: Hostile, attacker: Attacker
) -> None:
    app, offer_id = hostile.app, hostile.offer_id
    offer = app.get(f"/api/v1/offers/{offer_id}")
    # The payloads really reached the record the pages render.
    assert offer["items"][0]["product_name"] == xss.product_name()
    assert offer["supplier"]["name"] == xss.supplier_name()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    watch = Watch()
    watch.attach(page)
    login(page, app.url, USER, PASSWORD)
    watch.clear()
    paths = [*_pages(hostile), *_json_pages(hostile)]
    try:
        for path in paths:
            resp = page.goto(app.url + path)
            assert resp is not None and resp.status == 200, path
            if path == "/review/next":  # a redirect to the offer first in the queue
                assert "/offers/" in page.url or page.url.endswith("/review"), page.url
            page.wait_for_load_state("load")
            if path == f"/offers/{offer_id}":
                # Open the HTML view and try the (defused) javascript: link inside the frame.
                page.locator("details.html-view summary").click()
                frame = page.frame_locator("details.html-view iframe")
                frame.locator("body").wait_for()
                frame.locator("#xss-link, a", has_text="click me").first.click()
                page.wait_for_timeout(300)  # give a payload the chance to misbehave
                body = page.locator("pre.mailtext").first.inner_text()
                assert xss.TEMPLATE_INJECTION in body  # shown literally, never evaluated
                assert "<script>window.__xss=1;alert('script')</script>" in body
            assert page.evaluate(f"typeof window.{xss.MARKER}") == "undefined", path
            assert watch.dialogs == [], path
            assert watch.errors == [], path
            assert [m for m in watch.console if m[0] in ("error", "warning")] == [], path
            assert not any(xss.MARKER in m or "xss" in m.lower() for _, m in watch.console), path
        assert attacker.hits == []
        own = urlsplit(app.url).netloc
        foreign = [
            u for u in watch.requests if urlsplit(u).scheme not in ("data", "about")
            and urlsplit(u).netloc != own
        ]  # fmt: skip
        assert foreign == [], foreign
        # The subject and names are shown as text.
        page.goto(app.url + "/offers")
        listing = page.locator("table.list tbody").inner_text()
        assert "<script>window.__xss=1</script>" in listing and "{{7*7}}" in listing
    finally:
        context.close()
    print(json.dumps({"payloads": xss.html_payloads("http://ATTACKER")}, indent=1))
