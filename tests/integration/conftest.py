"""Fixtures that start real services for integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.browser import browser  # noqa: F401 - headless Chromium fixture
from tests.integration.dovecot import Dovecot, find_dovecot
from tests.integration.services import RedisServer


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot (IMAP + POP3) on 127.0.0.1, one per test module.

    Skips when the ``dovecot`` binary is missing, except under CI (``CI`` set), where a
    missing Dovecot fails the run.
    """
    if find_dovecot() is None:
        msg = (
            "dovecot binary not found: install the Debian packages dovecot-imapd and "
            "dovecot-pop3d to run the mail integration tests"
        )
        if _in_ci():
            pytest.fail(msg + " (CI is set, so this is an error)", pytrace=False)
        pytest.skip(msg)
    with Dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a private ``redis-server`` on 127.0.0.1, one per test module."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the tail of the Dovecot log to the report of a failed test that used it."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    server = getattr(item, "funcargs", {}).get("dovecot")
    if report.failed and isinstance(server, Dovecot) and server.running:
        report.sections.append(("dovecot log", server.log_tail(60)))
