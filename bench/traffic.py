"""HTTP clients of the load benchmarks and what they record per endpoint.

A Browser is one simulated person: one keep-alive connection (urllib3), the session cookie
kept by hand, and the headers a browser sends through the TLS-terminating reverse proxy of a
deployment (X-Forwarded-Proto: https, which gunicorn trusts from 127.0.0.1, and a Referer on
form posts, which CSRF protection checks over HTTPS). Redirects are not followed by the
client: each request is timed and counted on its own, and the caller follows them as a
browser would. A Recorder keeps, per endpoint, every latency and the answers by class.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3

TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)
PAGE = frozenset({200})
REDIRECT = frozenset({302, 303})
CREATED = frozenset({201})
CLIENT_ERROR = frozenset(range(400, 500))
CSRF_TOKEN = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Answer:
    status: int
    body: bytes
    location: str | None

    def csrf_token(self) -> str | None:
        found = CSRF_TOKEN.search(self.body)
        return found.group(1).decode() if found else None


@dataclass
class EndpointStats:
    latencies_ms: list[float] = field(default_factory=list)
    classes: Counter[str] = field(default_factory=Counter)
    failed: int = 0  # no answer: refused, reset or timed out
    unexpected: int = 0  # an answer the caller did not expect (any 5xx among them)
    kept: int = 0  # pages served from those kept in Redis, not drawn

    def merge(self, other: EndpointStats) -> None:
        self.latencies_ms.extend(other.latencies_ms)
        self.classes.update(other.classes)
        self.failed += other.failed
        self.unexpected += other.unexpected
        self.kept += other.kept


class Recorder:
    """Per-endpoint latencies and answers; thread-safe, as every simulated user writes to it."""

    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointStats] = {}
        self._lock = threading.Lock()

    def answered(
        self, name: str, ms: float, status: int, expected: Collection[int], kept: bool = False
    ) -> None:
        with self._lock:
            stats = self.endpoints.setdefault(name, EndpointStats())
            stats.latencies_ms.append(ms)
            stats.kept += kept
            stats.classes[f"{status // 100}xx"] += 1
            if status not in expected:
                stats.unexpected += 1

    def failed(self, name: str) -> None:
        with self._lock:
            self.endpoints.setdefault(name, EndpointStats()).failed += 1

    def summary(self, seconds: float) -> dict[str, dict[str, Any]]:
        """Per endpoint: requests, requests/s, p50, p99 and max in ms, answers by class."""
        return {name: _summarise(stats, seconds) for name, stats in sorted(self.endpoints.items())}


def percentile(sorted_values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value at or above that share of the values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[rank - 1]


def _summarise(stats: EndpointStats, seconds: float) -> dict[str, Any]:
    ordered = sorted(stats.latencies_ms)
    requests = len(ordered) + stats.failed
    return {
        "requests": requests,
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(ordered, 0.50), 1),
        "p99_ms": round(percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1) if ordered else math.nan,
        **{f"{n}xx": stats.classes.get(f"{n}xx", 0) for n in (2, 3, 4, 5)},
        "failed": stats.failed,
        "unexpected": stats.unexpected,
        "kept": stats.kept,
    }


class Browser:
    """One simulated person's browser; not shared between threads."""

    def __init__(self, port: int, recorder: Recorder) -> None:
        self.origin = f"https://127.0.0.1:{port}"
        self.pool = urllib3.HTTPConnectionPool(
            "127.0.0.1", port, maxsize=1, block=True, retries=False, timeout=TIMEOUT
        )
        self.cookies: dict[str, str] = {}
        self.recorder = recorder

    def get(self, name: str, path: str, expected: Collection[int] = PAGE) -> Answer | None:
        return self.request(name, "GET", path, expected=expected)

    def post_form(
        self,
        name: str,
        path: str,
        form: dict[str, str],
        *,
        referer: str,
        expected: Collection[int] = REDIRECT,
    ) -> Answer | None:
        return self.request(
            name, "POST", path, body=urlencode(form).encode(), expected=expected,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Referer": self.origin + referer},
        )  # fmt: skip

    def request(
        self,
        name: str,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        expected: Collection[int] = PAGE,
    ) -> Answer | None:
        """The answer, timed and recorded under name; None (recorded as failed) without one."""
        sent = {"X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        try:
            response = self.pool.urlopen(
                method, path, body=body, headers=sent, redirect=False, preload_content=True
            )
        except (urllib3.exceptions.HTTPError, OSError):
            self.recorder.failed(name)
            return None
        ms = (time.perf_counter() - started) * 1000
        kept = response.headers.get("X-Page-Source") == "kept"
        self.recorder.answered(name, ms, response.status, expected, kept)
        self._keep_cookies(response.headers.getlist("Set-Cookie"))
        location = response.headers.get("Location")
        return Answer(response.status, response.data, urlsplit(location).path if location else None)

    def _keep_cookies(self, lines: list[str]) -> None:
        # The session cookie is Secure in production; a cookie jar would not send it over the
        # plain connection behind the "proxy", so the one cookie is kept here.
        for line in lines:
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            if not value or "max-age=0" in attributes.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def close(self) -> None:
        self.pool.close()
