"""Browser tier: a real server on a real database, driven by headless Chromium.

The live server runs the app in a thread on its own database, seeded once with
tenants A and B and committed for real: the per-test rollback of tests/conftest.py
only applies to tests that use the ``app`` fixture, which no browser test may use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from portal.extensions import db
from tests.conftest import TenantWorld, build_tenant, fresh_database, make_app, serving

HERE = Path(__file__).resolve().parent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test of this directory drives the browser, and says so with its marker."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium: `playwright install` cannot download browsers on this machine."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask
    a: TenantWorld
    b: TenantWorld


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app served over HTTP on 127.0.0.1, with tenants A and B committed to its database.

    Long jobs (file imports) run on a thread, as in the embedded default, so a page can
    follow a job's progress instead of getting the finished job with its first answer.
    """
    with fresh_database(tmp_path_factory.mktemp("browser-db")) as database_url:
        app = make_app(database_url, INPROCESS_JOB_THREADS=True)
        with app.app_context():
            a = build_tenant("tenant-a")
            b = build_tenant("tenant-b")
        try:
            with serving(app) as url:
                yield LiveServer(url, app, a, b)
        finally:
            with app.app_context():
                db.engine.dispose()


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    """Pages resolve relative URLs against the live server: page.goto("/login")."""
    return live_server.url
