"""The deployed processes of "Deployment on one machine", started for a benchmark: gunicorn with
gunicorn.conf.py, RQ workers with the scheduler and the cron process, in production mode.

Each runs in a process group of its own (so stopping it stops its children too: gunicorn's
workers, RQ's scheduler process) and writes its log to a file in a folder of the run. A
supervisor thread starts again any process that exits while it should run, as systemd does,
and counts those restarts; stopping sends TERM to each group, then KILL after a grace time.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis
from rq import Worker

ROOT = Path(__file__).resolve().parents[1]
# The virtualenv the bench runs in has the portal's commands beside its python.
BIN = Path(sys.executable).parent
STOP_GRACE_S = 15.0
READY_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Managed:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None


@dataclass
class Stack:
    """gunicorn, RQ workers and the cron process against one database and one Redis."""

    database_url: str
    redis_url: str
    logs: Path
    rq_workers: int = 2
    web_workers: int | None = None
    port: int = field(default_factory=free_port)
    restarts: Counter[str] = field(default_factory=Counter)
    _managed: dict[str, Managed] = field(default_factory=dict)
    _running: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PORTAL_ENV="production",
            SECRET_KEY=secrets.token_hex(32),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            LOG_FORMAT="json",
        )
        if self.web_workers:
            env["WEB_CONCURRENCY"] = str(self.web_workers)
        return env

    def start(self) -> None:
        """Start every process and wait until gunicorn answers and the workers have registered."""
        self._env = self.environment()
        flask = [str(BIN / "flask"), "--app", "wsgi"]
        self._add("gunicorn", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"])
        for number in range(1, self.rq_workers + 1):
            self._add(f"worker-{number}", [*flask, "rq", "worker"])
        self._add("cron", [*flask, "rq", "cron"])
        self._running = True
        for managed in self._managed.values():
            self._spawn(managed)
        self._wait_until_ready()
        threading.Thread(target=self._supervise, name="supervisor", daemon=True).start()

    def _add(self, name: str, command: list[str]) -> None:
        self._managed[name] = Managed(name, command)

    def _spawn(self, managed: Managed) -> None:
        log = open(self.logs / f"{managed.name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        with log:
            managed.process = subprocess.Popen(
                managed.command, cwd=ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        connection = redis.Redis.from_url(self.redis_url)
        expected_web = self.configured_web_workers()
        while time.monotonic() < deadline:
            self.check_alive()
            if (
                self._answers()
                and self.web_worker_count() >= expected_web
                and Worker.count(connection=connection) >= self.rq_workers
            ):
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"the stack was not ready within {READY_TIMEOUT_S:.0f} s; see {self.logs}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/livez", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def check_alive(self) -> None:
        for managed in self._managed.values():
            if managed.process is not None and managed.process.poll() is not None:
                raise RuntimeError(
                    f"{managed.name} exited with {managed.process.returncode} while starting; "
                    f"see {self.logs / (managed.name + '.log')}"
                )

    def _supervise(self) -> None:
        while self._running:
            with self._lock:
                for managed in self._managed.values():
                    process = managed.process
                    if self._running and process is not None and process.poll() is not None:
                        self.restarts[managed.name] += 1
                        self._spawn(managed)
            time.sleep(0.5)

    def kill(self, name: str) -> int:
        """SIGKILL the process group, as when the machine's OOM killer or a crash takes the
        process and its supervisor then cleans its group up; then start it again, as the
        supervisor does. The killed process's id."""
        with self._lock:
            managed = self._managed[name]
            assert managed.process is not None
            pid = managed.process.pid
            _signal_group(pid, signal.SIGKILL)
            managed.process.wait()
            self._spawn(managed)
        return pid

    def pids(self) -> dict[str, int]:
        return {m.name: m.process.pid for m in self._managed.values() if m.process is not None}

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds used so far by gunicorn ("web": its master, its live workers, and the
        workers it replaced, which the master's counts of reaped children hold) and by the RQ
        workers and cron ("jobs"; a process killed or restarted takes its count with it)."""
        totals = {"web": 0.0, "jobs": 0.0}
        for name, pid in self.pids().items():
            totals["web" if name == "gunicorn" else "jobs"] += process_tree_cpu_s(pid)
        return totals

    def configured_web_workers(self) -> int:
        """The processes gunicorn.conf.py asks for in this environment."""
        saved = dict(os.environ)
        try:
            os.environ.update(self._env)
            return int(runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"])
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def web_worker_count(self) -> int:
        pid = str(self._managed["gunicorn"].process.pid)  # type: ignore[union-attr]
        return sum(
            1 for entry in os.listdir("/proc")
            if entry.isdigit() and (_stat(int(entry)) or ["", ""])[1] == pid
        )  # fmt: skip

    def stop(self) -> list[str]:
        """TERM every process group, KILL what is left after the grace time; names the killed."""
        self._running = False
        with self._lock:
            live = [m for m in self._managed.values() if m.process is not None]
            for managed in live:
                _signal_group(managed.process.pid, signal.SIGTERM)  # type: ignore[union-attr]
            deadline = time.monotonic() + STOP_GRACE_S
            killed = []
            for managed in live:
                process = managed.process
                assert process is not None
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    killed.append(managed.name)
                # Children (RQ's scheduler process) may outlive a leader that has exited.
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
        return killed


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_cpu_s(pid: int) -> float:
    """CPU seconds of one process (from /proc); 0 for one that is gone."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def process_tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process, its reaped children, and its live children (from /proc)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # After the ")": state is field 0, ppid 1, utime 11, stime 12, cutime 13, cstime 14.
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            child = _stat(int(entry))
            if child is not None and child[1] == str(pid):
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")
