"""What every benchmark reads: the PostgreSQL server and the Redis it was given. The throwaway
database and the migrated app come from tests/databases.py, as the tests' do."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# A database of its own on the local Redis: benchmarks empty it.
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def admin_url() -> str:
    """DATABASE_URL, the server's admin database; the bench refuses anything but PostgreSQL."""
    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith("postgresql"):
        sys.exit(f"DATABASE_URL must name a PostgreSQL server, not {url!r}")
    return url


def redis_url() -> str:
    """REDIS_URL, where the benchmark's jobs are queued; it is emptied before and after."""
    return os.environ.get("REDIS_URL", DEFAULT_REDIS)
