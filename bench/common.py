"""What every benchmark needs: the PostgreSQL server it was given, a throwaway database
there, and the app migrated onto it (the helpers the tests use, from tests/databases.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.databases import make_app, postgres_database

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """DATABASE_URL, the server's admin database; the bench refuses anything but PostgreSQL."""
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgresql"):
        sys.exit(f"DATABASE_URL must name a PostgreSQL server, not {url!r}")
    return url


@contextmanager
def fresh_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A new database named prefix_<random> on the server of admin_url, dropped afterwards."""
    with postgres_database(admin_url, f"{prefix}_") as url:
        yield url


def migrated_app(database_url: str) -> Flask:
    return make_app(database_url)
