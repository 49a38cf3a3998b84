"""Hostile mail content in the dashboard (headless Chromium, real server): script, event
handler, remote-load and template-injection payloads in a mail's HTML part, text part,
subject, sender name and product name run nothing and load nothing.

A loopback "attacker" HTTP server records every request; the payloads point at it
(``tests/integration/xss_payloads.py``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

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


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, attacker: Attacker
) -> Iterator[tuple[Appliance, int, int]]:
    """An appliance whose one offer came from a mail full of payloads."""
    work = tmp_path_factory.mktemp("xss")
    redis = RedisServer(work)
    app = Appliance(work, {"APPLIANCE_REDIS__URL": redis.url})
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
    raw = mail(sender="evil@xss.example", name=xss.supplier_name(),
               subject=xss.subject(attacker.origin), text=text, html=html)  # fmt: skip
    answer = {
        "supplier": {"name": xss.supplier_name(), "email": "evil@xss.example"},
        "items": [{"product_name": product, "quantity": 100, "unit": "pcs", "unit_price": 2.5,
                   "currency": "EUR", "total_price": 250, "lead_time_days": 7}],
    }  # fmt: skip
    with Seeder.for_appliance(app) as s:
        seeded = s.offer(raw, answer)
        supplier_id = s.db.scalar("SELECT supplier_id FROM offers WHERE id = ?", [seeded.offer_id])
    assert seeded.offer_id is not None
    add_user(app, USER, PASSWORD)
    app.start("server")
    try:
        yield app, int(seeded.offer_id), int(supplier_id)
    finally:
        app.stop_all()
        redis.stop()


def test_payloads_run_nothing_and_load_nothing(
    browser: Any, hostile: tuple[Appliance, int, int], attacker: Attacker
) -> None:
    app, offer_id, supplier_id = hostile
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
    paths = [
        f"/offers/{offer_id}", "/offers", "/review", "/", "/suppliers",
        f"/suppliers/{supplier_id}", "/offers?q=%3Cscript%3E", "/outbox",
    ]  # fmt: skip
    try:
        for path in paths:
            resp = page.goto(app.url + path)
            assert resp is not None and resp.status == 200, path
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
