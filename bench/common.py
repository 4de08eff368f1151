"""What every benchmark reads: the PostgreSQL server and the Redis it was given. The throwaway
database and the migrated app come from tests/databases.py, as the tests' do."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

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


def app_database(prefix: str) -> Any:
    """A throwaway database on DATABASE_URL's server that the app uses as in production:
    as a role that owns it and is neither superuser nor BYPASSRLS, so row-level security
    holds every statement, as it holds the deployed app's."""
    from tests.databases import postgres_database

    return postgres_database(admin_url(), prefix, app_role=True)


def redis_url() -> str:
    """REDIS_URL, where the benchmark's jobs are queued; it is emptied before and after."""
    return os.environ.get("REDIS_URL", DEFAULT_REDIS)


def server_cpu_s(connection: Any) -> float | None:
    """CPU seconds the server's processes of this connection's database have used so far.

    Read from /proc, so only for a server on this machine that lets us read its processes;
    None otherwise. With other work on the machine, wall-clock rates move a lot from run
    to run; CPU seconds (the bench's own and its server's) move much less.
    """
    pids = connection.exec_driver_sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    ).scalars()
    ticks = 0
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")
