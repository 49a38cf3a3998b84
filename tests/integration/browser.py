"""Headless Chromium (Debian's ``/usr/bin/chromium``, driven by playwright; no browser
download) for the dashboard tests: launch, log in, collect what a page reports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("APPLIANCE_TEST_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module; skips when it (or playwright) is absent."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install the Debian package chromium for browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watch:
    """What a page did: console messages, uncaught errors, dialogs and every request URL."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))

        def dialog(d: Any) -> None:
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", dialog)

    def clear(self) -> None:
        self.console.clear()
        self.errors.clear()
        self.dialogs.clear()
        self.requests.clear()

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught errors and dialogs seen so far."""
        bad = [f"console {t}: {m}" for t, m in self.console if t in ("error", "warning")]
        return [*bad, *(f"page error: {e}" for e in self.errors), *self.dialogs]


def login(page: Any, base_url: str, user: str, password: str, path: str = "/") -> None:
    """Log in through the login form (an anonymous page visit redirects to it)."""
    page.goto(base_url + path)
    page.wait_for_url("**/login**")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
