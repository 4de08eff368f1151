"""gunicorn settings for the portal: `gunicorn -c gunicorn.conf.py wsgi:app`.

Each value can be changed by the environment variable named beside it, or on the command
line (`--workers 2` wins over this file).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

from gunicorn.glogging import Logger


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name) or ""
    return int(raw) if raw.strip() else default


# Reached through a reverse proxy on the same machine; GUNICORN_BIND=0.0.0.0:8000 to be
# reached from other machines.
bind = os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000"

# Processes: 2 per core plus 1, the usual start for requests that wait on the database,
# capped because each holds PostgreSQL connections of its own (one per busy thread), and
# PostgreSQL allows 100 connections by default.
workers = _int("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8))
# Threads let a process wait on a slow client or query without holding up the others.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)

# A process that stops answering its heartbeat for this long is killed and replaced.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On TERM or a restart, running requests have this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Replacing each process now and then bounds the memory that a slow leak can take.
max_requests = 2000
max_requests_jitter = 200

# Only these addresses may tell gunicorn, through X-Forwarded-Proto, that the client used
# HTTPS (secure cookies and redirects depend on it). Leave it at the reverse proxy's
# address; "*" lets anyone who can reach gunicorn claim HTTPS. gunicorn reads
# FORWARDED_ALLOW_IPS itself, so that variable changes it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"

# Load the app once, before forking: processes start faster and share its memory. Safe
# because post_fork below gives each process a fresh SQLAlchemy pool, and redis-py makes
# new connections in a forked process by itself. A new release needs a restart, not HUP.
preload_app = True


def _loaded_app() -> Any:
    return getattr(sys.modules.get("wsgi"), "app", None)


def when_ready(server: Any) -> None:
    """Compile the templates in the master, before the first fork, so that no process
    compiles them while its first users wait (portal.warm_up)."""
    app = _loaded_app()
    if app is not None:
        from portal import warm_up

        warm_up(app)


def pre_fork(server: Any, worker: Any) -> None:
    """Move the loaded app's objects out of the garbage collector's sight before forking.

    The app, its models and templates are made once and live as long as the process; left
    in the collected generations, every full collection in every process walks them again,
    and writes their headers, which copies the memory the processes shared.
    """
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    """Drop the database connections inherited from the master, without closing them.

    SQLAlchemy's recipe for a pool used across os.fork(): dispose(close=False) makes the
    child open its own connections and leaves the parent's sockets alone.
    """
    app = _loaded_app()
    if app is None:
        return
    from portal.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


# Logs: one handler on stdout, JSON in production, for gunicorn's lines and the app's.
loglevel = "info"
# The app writes the access line itself (portal/logs.py), with the request id, tenant and
# user that gunicorn cannot know, so gunicorn's own access line would only repeat it.
accesslog = None


class _NoAccessLine(Logger):
    """gunicorn's logger without its access line. Given a logging configuration, gunicorn
    builds every request's access line (a hundredth of a page's time) even where the
    configuration drops it."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


logger_class = _NoAccessLine
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"portal": {"()": "portal.logs.formatter_from_environment"}},
    "handlers": {
        "stdout": {"class": "portal.logs.ConsoleHandler", "to": "stdout", "formatter": "portal"}
    },
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}

# gunicorn's control socket has one path per user by default, which a second gunicorn on
# the machine would unlink and take over; signals (HUP, TTIN, TTOU, TERM) do its work.
control_socket_disable = True
