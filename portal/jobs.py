"""Background jobs on RQ: the job decorator, the queue, and the periodic schedule.

With REDIS_URL set, jobs go to Redis and run in `flask rq worker`. Without it they run
in-process through RQ's synchronous mode on fakeredis, so the embedded default needs
no server; periodic jobs then run on an in-process timer (see `start_inprocess_timer`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue
from rq.utils import import_attribute

log = logging.getLogger(__name__)

# In the order a worker takes them: deadlines first, then routing, then the rest.
QUEUE_NAMES = ("sla", "routing", "notifications", "default")
# How often the SLA sweep runs: an offer whose expiry job was lost expires this late at most.
SLA_SWEEP_SECONDS = 30
# How long a gathered job counts as waiting in its queue. A job lost before it ran (a worker
# killed) leaves its mark behind this long at most; the periodic jobs cover its work meanwhile.
GATHER_MARK_SECONDS = 120

P = ParamSpec("P")
R = TypeVar("R")

_worker_app: Flask | None = None


def _app_for_worker() -> Flask:
    """A worker process builds the app once from its environment and reuses it."""
    global _worker_app
    if _worker_app is None:
        from portal import create_app

        _worker_app = create_app()
    return _worker_app


def job(
    queue: str = "default",
    timeout: int = 300,
    *,
    long_running: bool = False,
    gather_wait: str | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare a job: its queue (named by purpose) and timeout; it runs in an app context.

    A long-running job (a file import) runs on a thread of its own when there is no Redis,
    so the request that starts it answers at once instead of waiting for it. gather_wait
    names the setting of how long a gathered ask for it waits for others to join
    (`enqueue_gathered`); without it the job is queued at once.
    """
    if queue not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if has_app_context():
                return fn(*args, **kwargs)
            with _app_for_worker().app_context():
                return fn(*args, **kwargs)

        run.queue_name = queue  # type: ignore[attr-defined]
        run.timeout = timeout  # type: ignore[attr-defined]
        run.long_running = long_running  # type: ignore[attr-defined]
        run.gather_wait = gather_wait  # type: ignore[attr-defined]
        return run

    return decorate


class JobQueue:
    """The app's door to RQ: real Redis when configured, otherwise in-process."""

    def init_app(self, app: Flask) -> None:
        url = app.config.get("REDIS_URL")
        if url:
            connection: Redis = Redis.from_url(url)
            is_async = True
        else:
            from fakeredis import FakeStrictRedis

            connection = FakeStrictRedis()
            is_async = False
        app.extensions["portal_jobs"] = _QueueState(connection, is_async)

    @property
    def _state(self) -> _QueueState:
        return current_app.extensions["portal_jobs"]

    @property
    def connection(self) -> Redis:
        return self._state.connection

    @property
    def is_async(self) -> bool:
        return self._state.is_async

    def queue(self, name: str) -> Queue:
        return self._state.queues[name]

    def enqueue(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Enqueue a declared job on its own queue; call it only after the commit it needs."""
        if (
            not self.is_async
            and getattr(fn, "long_running", False)
            and current_app.config["INPROCESS_JOB_THREADS"]
        ):
            return _run_on_thread(current_app._get_current_object(), fn, args, kwargs)  # type: ignore[attr-defined]
        return self.queue(fn.queue_name).enqueue(  # type: ignore[attr-defined]
            fn,
            *args,
            job_timeout=fn.timeout,
            **kwargs,  # type: ignore[attr-defined]
        )

    def enqueue_gathered(
        self,
        fn: Callable[..., Any],
        tenant_id: int,
        items: Iterable[int] | None = None,
    ) -> None:
        """Ask for fn(tenant_id) to run, or fn(tenant_id, ids) with these ids among others.

        Asks made while such a job waits in its queue join it: the job runs once with every
        id asked for until it started. Under load a burst of answers then costs a few jobs,
        not one each. A job declared with a gather_wait is queued that much later, so the
        asks of that time join it even when the workers are idle. Without Redis it runs here
        and now with these ids, as `enqueue` does.
        """
        ids = None if items is None else sorted(set(items))
        if not self.is_async:
            self.enqueue(fn, tenant_id, *(() if ids is None else (ids,)))
            return
        name = f"{fn.__module__}.{fn.__qualname__}"
        waiting, gathered = _gather_keys(name, tenant_id)
        with self.connection.pipeline() as pipe:
            if ids:
                pipe.sadd(gathered, *ids)
            pipe.set(waiting, 1, nx=True, ex=GATHER_MARK_SECONDS)
            first = pipe.execute()[-1]
        if not first:
            return
        target = self.queue(fn.queue_name)  # type: ignore[attr-defined]
        args = (run_gathered, name, tenant_id, ids is not None)
        options = {"job_timeout": fn.timeout, "description": f"{name}({tenant_id}, gathered)"}  # type: ignore[attr-defined]
        setting = getattr(fn, "gather_wait", None)
        wait_s = current_app.config[setting] if setting else 0
        if wait_s > 0:
            target.enqueue_in(timedelta(seconds=wait_s), *args, **options)
        else:
            target.enqueue(*args, **options)

    def schedule_many(
        self, fn: Callable[..., Any], jobs: list[tuple[datetime, str, tuple[Any, ...]]]
    ) -> int:
        """Schedule a declared job once per (when, job id, args), in one round trip to Redis.

        A job id already scheduled is scheduled again for the same time, so scheduling twice
        is harmless. Without Redis nothing runs scheduled jobs (RQ's synchronous mode only
        stores them), so they are not stored at all: the in-process timer's sweep does the work.
        """
        if not self.is_async or not jobs:
            return 0
        queue = self.queue(fn.queue_name)  # type: ignore[attr-defined]
        with self.connection.pipeline() as pipe:
            for when, job_id, args in jobs:
                queue.enqueue_at(
                    when,
                    fn,
                    *args,
                    job_id=job_id,
                    job_timeout=fn.timeout,
                    pipeline=pipe,  # type: ignore[attr-defined]
                )
            pipe.execute()
        return len(jobs)


def _gather_keys(name: str, tenant_id: int) -> tuple[str, str]:
    prefix = f"portal:gathered:{name}:{tenant_id}"
    return f"{prefix}:waiting", f"{prefix}:ids"


def run_gathered(name: str, tenant_id: int, with_ids: bool) -> Any:
    """The job `enqueue_gathered` queues: take the ids asked for so far and run the job.

    The mark comes off in the same step as the ids are taken, before the job reads
    anything, so an ask made from then on queues a job of its own rather than being lost.
    """
    if not has_app_context():
        with _app_for_worker().app_context():
            return run_gathered(name, tenant_id, with_ids)
    from portal.extensions import queue  # the extensions hold this module's JobQueue

    waiting, gathered = _gather_keys(name, tenant_id)
    with queue.connection.pipeline() as pipe:  # MULTI/EXEC: the three at once
        pipe.delete(waiting)
        pipe.smembers(gathered)
        pipe.delete(gathered)
        taken = pipe.execute()[1]
    fn = import_attribute(name)
    if not with_ids:
        return fn(tenant_id)
    if not taken:
        return None
    return fn(tenant_id, sorted(int(i) for i in taken))


def _run_on_thread(
    app: Flask, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> threading.Thread:
    def work() -> None:
        with app.app_context():
            try:
                fn(*args, **kwargs)
            except Exception:
                log.exception("job %s failed", fn.__qualname__)

    thread = threading.Thread(target=work, name=f"job-{fn.__qualname__}", daemon=True)
    thread.start()
    return thread


class _QueueState:
    def __init__(self, connection: Redis, is_async: bool) -> None:
        self.connection = connection
        self.is_async = is_async
        self.queues = {
            name: Queue(name, connection=connection, is_async=is_async) for name in QUEUE_NAMES
        }


@dataclass(frozen=True)
class PeriodicJob:
    fn: Callable[[], Any]
    interval_seconds: int
    timeout: int = 300


def periodic_jobs() -> list[PeriodicJob]:
    """Every periodic job, in one list: `flask rq cron` and the in-process timer read it."""
    from portal.leads.tasks import flag_stale_everywhere
    from portal.notifications.tasks import catch_up_everywhere, send_due_everywhere
    from portal.routing.tasks import route_everywhere
    from portal.scorecards.tasks import recompute_quality_everywhere
    from portal.sla.tasks import sweep_everywhere
    from portal.tenancy.tasks import purge_ended_sessions

    return [
        PeriodicJob(purge_ended_sessions, interval_seconds=3600, timeout=300),
        PeriodicJob(route_everywhere, interval_seconds=60, timeout=900),
        PeriodicJob(catch_up_everywhere, interval_seconds=60, timeout=900),
        PeriodicJob(send_due_everywhere, interval_seconds=30, timeout=300),
        PeriodicJob(flag_stale_everywhere, interval_seconds=3600, timeout=900),
        PeriodicJob(recompute_quality_everywhere, interval_seconds=3600, timeout=1800),
        # The safety net of the expiry jobs, and the only expiry without Redis.
        PeriodicJob(sweep_everywhere, interval_seconds=SLA_SWEEP_SECONDS, timeout=600),
    ]


def run_due_periodic_jobs(app: Flask, last_run: dict[str, float], now: float) -> None:
    """Run, in this process, each periodic job whose interval has passed since its last run."""
    for periodic in periodic_jobs():
        name = periodic.fn.__qualname__
        if name in last_run and now - last_run[name] < periodic.interval_seconds:
            continue
        last_run[name] = now
        try:
            with app.app_context():
                periodic.fn()
        except Exception:
            log.exception("periodic job %s failed; it runs again at its next interval", name)


def start_inprocess_timer(app: Flask, stop: threading.Event) -> threading.Thread:
    """Run periodic jobs on a daemon thread, for the embedded default without Redis."""
    import time

    tick = app.config["INPROCESS_SWEEP_SECONDS"]

    def loop() -> None:
        last_run: dict[str, float] = {}
        while not stop.is_set():
            run_due_periodic_jobs(app, last_run, time.monotonic())
            stop.wait(tick)

    thread = threading.Thread(target=loop, name="portal-timer", daemon=True)
    thread.start()
    return thread
