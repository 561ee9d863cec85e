"""Portal fixtures: a live server with two labs and their people, and headless Chromium.

Browser tests (marker ``browser``) drive Debian's Chromium through Playwright against a real
server on loopback. They run on SQLite only: the portal holds no SQL of its own that differs
by dialect beyond what ``tests/portal/test_http.py`` runs on both backends, and a second,
PostgreSQL browser pass would double the slowest part of the suite. Without a Chromium binary
they are skipped with a message (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.portal.helpers import PASSWORD, enrolled_user, write_consortium_key

CHROMIUM = os.environ.get("PALISADE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives headless Chromium with Playwright (skipped without Chromium)"
    )


@dataclass
class Portal:
    """A running server plus what the tests need to know about its seeded people."""

    server: Any
    url: str
    key_file: Path
    secrets: dict[str, str]
    lab_b_key: str
    tmp: Path
    states: dict[str, Any] = field(default_factory=dict)

    def page_url(self, path: str) -> str:
        return f"{self.url}/portal/{path.lstrip('/')}"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    from sharing.accounts import orgs
    from tests.factories import TEST_ACTOR, make_user
    from tests.live import live_server

    tmp = tmp_path_factory.mktemp("portal")
    with live_server(f"sqlite:///{tmp / 'portal.db'}", tmp / "instance") as server:
        secrets: dict[str, str] = {}
        with server.db.transaction(write=True) as s:
            lab_a = orgs.create_org(s, "lab-a", "Lab A", actor=TEST_ACTOR)
            lab_b = orgs.create_org(s, "lab-b", "Lab B", actor=TEST_ACTOR)
            for name, role in (
                ("alice", "platform-admin"),
                ("carol", "org-admin"),
                ("frank", "org-admin"),
                ("gina", "org-admin"),
            ):
                _, secrets[name] = enrolled_user(s, server.rt.cipher, lab_a, name, role)
            make_user(s, server.rt.cipher, lab_a, username="dave", role="member")
            make_user(s, server.rt.cipher, lab_a, username="erin", role="org-admin")
            make_user(s, server.rt.cipher, lab_b, username="bob", role="member")
            group = orgs.create_group(s, "b-only", actor=TEST_ACTOR)
            orgs.add_group_member(s, group, lab_b, actor=TEST_ACTOR)
        lab_b_key = server.member("lab-b")
        yield Portal(
            server,
            server.url,
            write_consortium_key(tmp / "consortium.json"),
            secrets,
            lab_b_key,
            tmp,
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ConsoleWatch:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Any) -> Any:
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda m: self.errors.append(f"{page.url}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        return page


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


def login(page: Any, portal: Portal, username: str, *, code: str | None = None) -> None:
    import pyotp

    page.goto(portal.page_url("login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if username in portal.secrets:
        page.wait_for_url("**/portal/login/code")
        page.get_by_label("Six-digit code").fill(code or pyotp.TOTP(portal.secrets[username]).now())
        page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/portal/dashboard")


@pytest.fixture
def as_user(browser: Any, portal: Portal, console: ConsoleWatch) -> Iterator[Any]:
    """``as_user(name)`` -> a page logged in as ``name`` (one real login per user and module:
    TOTP codes are single-use, so later pages reuse the stored session)."""
    contexts = []

    def make(username: str) -> Any:
        state = portal.states.get(username)
        context = browser.new_context(storage_state=state) if state else browser.new_context()
        contexts.append(context)
        page = console.attach(context.new_page())
        if state is None:
            login(page, portal, username)
            portal.states[username] = context.storage_state()
        return page

    yield make
    for context in contexts:
        context.close()
    assert not console.errors, console.errors


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
