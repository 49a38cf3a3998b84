"""The review dashboard in headless Chromium against a real ``appliance server`` (Redis and
DuckDB on disk; offers seeded through the store's own path, no LLM): every page loads cleanly,
and a reviewer corrects a price, approves, and lands on the next offer of the queue."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.browser import Watch, login
from tests.integration.seed import SUPPLIERS, Seeder, Standard, add_user, seed_standard
from tests.integration.services import Appliance, RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.browser]

USER, PASSWORD = "rita", "correct horse battery"
SHOTS = os.environ.get("APPLIANCE_SCREENSHOTS")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Appliance, Standard]]:
    work = tmp_path_factory.mktemp("dashboard")
    redis = RedisServer(work)
    appliance = Appliance(
        work, {"APPLIANCE_REDIS__URL": redis.url, "APPLIANCE_SUPPLIERS": json.dumps(SUPPLIERS)}
    )
    with Seeder.for_appliance(appliance) as s:
        std = seed_standard(s)
    add_user(appliance, USER, PASSWORD)
    appliance.start("server")
    try:
        yield appliance, std
    finally:
        appliance.stop_all()
        redis.stop()


@pytest.fixture
def page(browser: Any, app: tuple[Appliance, Standard]) -> Iterator[tuple[Any, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    watch = Watch()
    watch.attach(p)
    login(p, app[0].url, USER, PASSWORD)
    watch.clear()  # the login page is the auth routes'; what follows is the dashboard
    try:
        yield p, watch
    finally:
        context.close()


def _shot(p: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        p.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_every_page_loads_without_errors(
    app: tuple[Appliance, Standard], page: tuple[Any, Watch]
) -> None:
    appliance, std = app
    p, watch = page
    supplier_id = appliance.get(f"/api/v1/offers/{std.review[0]}")["supplier_id"]
    paths = [
        "/", "/review", "/offers", "/offers?q=box&state=needs_review", f"/offers/{std.review[0]}",
        f"/offers/{std.awaiting}", f"/offers/{std.complete}", "/suppliers",
        f"/suppliers/{supplier_id}", "/mails?state=failed", "/mails", "/outbox", "/adapters",
    ]  # fmt: skip
    for path in paths:
        resp = p.goto(appliance.url + path)
        assert resp is not None and resp.status == 200, path
        assert resp.headers["content-security-policy"].startswith("default-src 'none'"), path
        p.wait_for_load_state("load")
        assert watch.problems() == [], path
    # What the pages show.
    p.goto(appliance.url + "/review")
    rows = p.locator("#queue tbody tr")
    assert rows.count() == 2
    assert "total price 500 is not quantity 500" in rows.nth(0).inner_text()
    p.goto(appliance.url + "/offers?q=screws")
    assert p.locator("table.list tbody tr").count() == 1
    assert "Quotation screws" in p.locator("table.list tbody").inner_text()
    p.goto(appliance.url + "/mails?state=failed")
    assert "not valid JSON" in p.locator("table.list tbody").inner_text()
    # Screenshots (APPLIANCE_SCREENSHOTS=docs/screenshots): overview, queue, offer with evidence.
    p.goto(appliance.url + "/")
    _shot(p, "overview")
    p.goto(appliance.url + "/review")
    _shot(p, "review-queue")
    p.goto(appliance.url + f"/offers/{std.review[0]}")
    p.locator("details.html-view summary").click()
    price = p.locator("tr.field[data-path='items[0].unit_price']")
    price.hover()
    key = price.get_attribute("data-key")
    marked = p.locator(f"mark.hl[data-keys~='{key}']")
    assert marked.count() == 1 and marked.inner_text() == "0.85"
    assert "items[0].unit_price" in (marked.get_attribute("title") or "")
    # The HTML part is in a sandboxed frame without scripts or same-origin.
    frame = p.locator("details.html-view iframe")
    assert frame.get_attribute("sandbox") == ""
    assert "0.85 EUR" in p.frame_locator("details.html-view iframe").locator("table").inner_text()
    _shot(p, "offer-detail")
    assert watch.problems() == []


def test_reviewer_corrects_approves_and_moves_on(
    app: tuple[Appliance, Standard], page: tuple[Any, Watch]
) -> None:
    appliance, std = app
    first, second = std.review
    p, watch = page
    p.goto(appliance.url + "/review")
    p.keyboard.press("j")
    p.keyboard.press("Enter")
    p.wait_for_url(f"**/offers/{first}")
    # n opens the next offer of the queue; back to the first one.
    p.keyboard.press("n")
    p.wait_for_url(f"**/offers/{second}")
    p.goto(appliance.url + f"/offers/{first}")
    # e edits; correct the unit price (the total then agrees); Ctrl+Enter saves.
    p.keyboard.press("e")
    price = p.locator("input.edit[data-item='0'][data-field='unit_price']")
    assert price.is_visible()
    price.fill("1.00")
    p.fill("#comment", "500 EUR total for 500 boxes")
    p.keyboard.press("Control+Enter")
    p.wait_for_load_state("load")
    row = p.locator("tr.field[data-path='items[0].unit_price']")
    row.locator("td.src", has_text="user:rita").wait_for()
    assert row.locator("span.val").inner_text() == "1"
    assert "was 0.85" in row.inner_text()
    assert "unit_price: 0.85 → 1" in p.locator("section.history").inner_text()
    # a approves; the next offer of the queue opens.
    p.locator("body").click(position={"x": 5, "y": 790})  # focus off any input
    p.keyboard.press("a")
    p.wait_for_url(f"**/offers/{second}")
    assert watch.problems() == []

    r = httpx.get(
        f"{appliance.url}/api/v1/corrections", params={"offer_id": first},
        headers=appliance.headers, timeout=10,
    )  # fmt: skip
    r.raise_for_status()
    rows = {c["action"]: c for c in r.json()["items"]}
    fix = rows["set"]
    assert (fix["field"], fix["item_position"], fix["before"], fix["after"]) == (
        "unit_price",
        0,
        0.85,
        1.0,
    )
    assert fix["user"] == USER and fix["comment"] == "500 EUR total for 500 boxes"
    assert rows["approve"]["user"] == USER and rows["approve"]["after"] == "complete"
    offer = appliance.get(f"/api/v1/offers/{first}")
    assert offer["state"] == "complete" and offer["reviewed_by"] == USER
    assert offer["items"][0]["unit_price"] == 1
