"""The CPU a partner's request costs the deployed stack, measured without contention.

Run: .venv/bin/python bench/request_cpu.py
DATABASE_URL and REDIS_URL as for bench/load.py, whose stack it starts (gunicorn with
gunicorn.conf.py, two RQ workers, cron) on a tenant of its own. Then two partner users of
different partners work their inboxes as bench/load.py's users do (inbox, an offer, accept
or reject, the page after) but with no think time, for BENCH_SECONDS (12) a round, in
BENCH_ROUNDS (3) rounds. Each round prints the CPU seconds of the web processes, of the
database's server processes and of the jobs, divided by the requests answered.

bench/load.py's p99 is a queue's: fifty users share two cores with PostgreSQL and the jobs,
and its figure moves by half from run to run. The CPU a request costs moves far less, and it
is what the queue is made of: this bench tells whether a change made requests cheaper. The
target: under 8 ms of the web processes' CPU a request, where the load bench's seventy
requests a second take about half a core. The last line is one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import sqlalchemy as sa
from load import (
    Cpu,
    Mixed,
    PartnerUser,
    Recorder,
    deployed,
    run_threads,
    sign_in,
    stop_on_term,
)
from stack import Stack

TARGET_WEB_MS = 8.0
USERS = 2


def measure_round(stack: Stack, browsers: list, database: sa.Connection, seconds: float) -> dict:
    run = Mixed(Recorder())
    for browser in browsers:
        browser.recorder = run.recorder
    cpu = Cpu(stack, database)
    until = time.monotonic() + seconds
    run_threads(
        [lambda b=b, n=n: PartnerUser(b, run, 0.0, n).work(until) for n, b in enumerate(browsers)]
    )
    spent = cpu.since()
    table = run.recorder.summary(seconds)
    answered = sum(row["requests"] for row in table.values())
    errors = sum(row["5xx"] + row["failed"] + row["unexpected"] for row in table.values())
    per_request = {
        name.removesuffix("_cpu_s"): round(value / answered * 1000, 2)
        for name, value in spent.items()
        if name != "client_cpu_s"
    }
    return {"requests": answered, "errors": errors, "ms_per_request": per_request}


def main() -> None:
    stop_on_term()
    seconds = float(os.environ.get("BENCH_SECONDS", 12))
    rounds = int(os.environ.get("BENCH_ROUNDS", 3))
    # Enough open offers that no inbox runs dry: a user answers about ten a second here.
    settings = {"users": 10, "inbox": int(seconds * rounds * 20)}
    results = []
    with deployed("bench_cpu_", settings) as run:
        # Users of different partners (each partner has two).
        browsers = sign_in(run.stack.port, run.world.logins[::2][:USERS])
        for number in range(rounds):
            result = measure_round(run.stack, browsers, run.database, seconds)
            results.append(result)
            print(f"round {number + 1}: {result['requests']} requests, {result['errors']} "
                  f"errors; CPU a request (ms): {result['ms_per_request']}")  # fmt: skip
        for browser in browsers:
            browser.close()
    web = round(statistics.median(r["ms_per_request"]["web"] for r in results), 2)
    database = round(statistics.median(r["ms_per_request"]["database"] for r in results), 2)
    errors = sum(r["errors"] for r in results)
    met = web < TARGET_WEB_MS and errors == 0
    print(f"\nthe web processes' CPU a request: median {web} ms (target < {TARGET_WEB_MS} ms); "
          f"the database's {database} ms; errors {errors} (target 0): "
          f"{'target met' if met else 'target NOT met'}")  # fmt: skip
    print(json.dumps({"web_ms_per_request": web, "database_ms_per_request": database,
                      "errors": errors, "target_web_ms": TARGET_WEB_MS, "target_met": met,
                      "rounds": results}))  # fmt: skip


if __name__ == "__main__":
    main()
