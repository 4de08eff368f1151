"""Settings from the environment: the one place that lists every variable the portal reads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from portal.db import json_text

ENVIRONMENTS = ("development", "testing", "production")


class ConfigError(RuntimeError):
    """Raised when the environment cannot make a safe configuration."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str


# The README's configuration table is written from this list.
VARIABLES = (
    Variable("PORTAL_ENV", "development", "development, testing or production"),
    Variable(
        "DATABASE_URL",
        "sqlite:///<instance>/portal.db",
        "SQLAlchemy URL; postgresql+psycopg://… in production",
    ),
    Variable("REDIS_URL", "(none)", "Redis for RQ jobs and rate limits; none runs jobs in-process"),
    Variable(
        "SECRET_KEY", "(development only)", "signs sessions and CSRF tokens; required in production"
    ),
    Variable("SESSION_IDLE_MINUTES", "30", "a login ends after this long without a request"),
    Variable(
        "SESSION_ABSOLUTE_HOURS", "12", "a login ends this long after it began, active or not"
    ),
    Variable(
        "LOGIN_RATE_LIMIT",
        "5 per minute;20 per hour",
        "failed logins allowed per address and e-mail",
    ),
    Variable("PUBLIC_URL", "http://localhost:5000", "the portal's address, for links in e-mails"),
    Variable("SMTP_HOST", "(none)", "SMTP server for e-mail; none writes e-mails to the log"),
    Variable("SMTP_PORT", "587", "SMTP port; STARTTLS is used when the server offers it"),
    Variable("SMTP_USER", "(none)", "SMTP login, if the server needs one"),
    Variable("SMTP_PASSWORD", "(none)", "SMTP password"),
    Variable("SMTP_FROM", "portal@localhost", "the sender of the portal's e-mails"),
    Variable("WEBHOOK_TIMEOUT_SECONDS", "5", "how long a webhook endpoint has to answer"),
    Variable(
        "KEPT_PAGE_SECONDS",
        "30 with REDIS_URL, else 0",
        "how long an inbox page or a request's login may be taken from Redis; 0 keeps none",
    ),
    Variable("LOG_FORMAT", "json in production, else text", "json: one JSON object per log line"),
    Variable(
        "PROXY_HOPS",
        "0",
        "reverse proxies in front that set X-Forwarded-For; 0 trusts no such header",
    ),
    Variable(
        "INPROCESS_SWEEP_SECONDS",
        "10",
        "how often the in-process timer runs periodic jobs without Redis",
    ),
)


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


DEFAULT_KEPT_PAGE_SECONDS = 30


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc


def normalise_database_url(url: str) -> str:
    """Steer plain postgres URLs to the psycopg 3 driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from the environment, then apply overrides."""
    overrides = overrides or {}
    env = overrides.get("PORTAL_ENV") or env_str("PORTAL_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"PORTAL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    log_format = env_str("LOG_FORMAT")
    if log_format not in (None, "json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, not {log_format!r}")
    default_db = "sqlite:///" + str(Path(instance_path) / "portal.db")
    secret = env_str("SECRET_KEY")
    if secret is None and env != "production":
        secret = "dev-only-not-secret"
    config: dict[str, Any] = {
        "PORTAL_ENV": env,
        "TESTING": env == "testing",
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(env_str("DATABASE_URL", default_db)),
        "SQLALCHEMY_ENGINE_OPTIONS": {"json_serializer": json_text},
        "REDIS_URL": env_str("REDIS_URL"),
        "LOG_FORMAT": log_format,
        "PROXY_HOPS": env_int("PROXY_HOPS", 0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "SESSION_IDLE": timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 30)),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=env_int("SESSION_ABSOLUTE_HOURS", 12)),
        "LOGIN_RATE_LIMIT": env_str("LOGIN_RATE_LIMIT", "5 per minute;20 per hour"),
        "INPROCESS_SWEEP_SECONDS": env_int("INPROCESS_SWEEP_SECONDS", 10),
        "PUBLIC_URL": env_str("PUBLIC_URL", "http://localhost:5000"),
        "SMTP_HOST": env_str("SMTP_HOST"),
        "SMTP_PORT": env_int("SMTP_PORT", 587),
        "SMTP_USER": env_str("SMTP_USER"),
        "SMTP_PASSWORD": env_str("SMTP_PASSWORD"),
        "SMTP_FROM": env_str("SMTP_FROM", "portal@localhost"),
        "SMTP_TIMEOUT_SECONDS": 20,
        "MAIL_MAX_ATTEMPTS": 8,
        "WEBHOOK_TIMEOUT_SECONDS": env_int("WEBHOOK_TIMEOUT_SECONDS", 5),
        "WEBHOOK_MAX_ATTEMPTS": 8,
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        # Lead files run to 100,000 lines and more; only the endpoints that take them allow it.
        "LARGE_UPLOAD_MAX_BYTES": 64 * 1024 * 1024,
        # Without Redis, long jobs run on a thread; tests run them at once, inside the test.
        "INPROCESS_JOB_THREADS": env != "testing",
        # With Redis, these jobs wait this long in the queue, and what else is asked of them
        # meanwhile joins them: the leads of a burst are routed together, its events fanned
        # out and mailed by one job, a partner's quality worked out once however many offers
        # it answered. Tests run the jobs as soon as a worker takes them.
        "ROUTING_GATHER_SECONDS": 0 if env == "testing" else 1,
        "NOTIFY_GATHER_SECONDS": 0 if env == "testing" else 2,
        "QUALITY_GATHER_SECONDS": 0 if env == "testing" else 30,
        "WTF_CSRF_TIME_LIMIT": None,
        "PASSWORD_HASH_PROFILE": "fast" if env == "testing" else "strong",
        "PAGE_SIZE": 25,
    }
    config.update(overrides)
    # Pages and logins are kept in Redis, and every process must see every other's writes
    # change their versions: without a Redis server each process would keep its own, so
    # nothing is kept unless asked for (the tests, in one process, ask).
    if "KEPT_PAGE_SECONDS" not in overrides:
        kept_default = DEFAULT_KEPT_PAGE_SECONDS if config["REDIS_URL"] else 0
        config["KEPT_PAGE_SECONDS"] = env_int("KEPT_PAGE_SECONDS", kept_default)
    config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"] or "memory://"
    if not config["SECRET_KEY"]:
        raise ConfigError("SECRET_KEY must be set in production")
    return config
