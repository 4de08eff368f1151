#!/usr/bin/env bash
# The README's "Deployment on one machine", run for real with throwaway names: a new
# PostgreSQL role and database, the schema, a tenant, its admin and an API key, then
# gunicorn (gunicorn.conf.py, 2 workers), an RQ worker with the scheduler, the cron
# process and the SLA sweep. It takes in one lead through the API, waits for the worker
# to route it, and checks the request ids and the JSON log lines. Whatever happens, it
# stops what it started and drops the database and the role.
#
# Where it departs from the README: it runs in the project's virtualenv, which `make test`
# installs (the README's `pip install` step); it reaches the PostgreSQL superuser through
# PG_ADMIN_URL rather than `sudo -u postgres`; it gives the admin's password with
# --password instead of typing it; and it lowers the qualification threshold as a channel
# manager would in the browser, so that the lead is routed. It uses Redis database
# SMOKE_REDIS_DB (default 7), flushed before and after.
#
# Usage: bash scripts/deploy-smoke.sh
# (optional: PG_ADMIN_URL, SMOKE_REDIS_DB, SMOKE_WAIT_SECONDS, SMOKE_LOG_DIR to keep the logs)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

PG_ADMIN_URL=${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
SMOKE_REDIS_DB=${SMOKE_REDIS_DB:-7}
SMOKE_WAIT_SECONDS=${SMOKE_WAIT_SECONDS:-30}

say() { printf '[deploy-smoke %2ds] %s\n' "$SECONDS" "$*"; }
fail() { say "FAILED: $*"; exit 1; }
checked() { say "ok: $*"; }

command -v curl >/dev/null || fail "curl is needed"
[ -x .venv/bin/gunicorn ] || fail "no .venv/bin/gunicorn: run make test (or pip install -e .) first"

suffix=$(python -c 'import secrets; print(secrets.token_hex(5))')
export DB_NAME=portal_smoke_$suffix DB_ROLE=portal_smoke_$suffix
export REDIS_URL=redis://127.0.0.1:6379/$SMOKE_REDIS_DB
# SMOKE_LOG_DIR keeps each process's log there; otherwise they go with the run.
logs=${SMOKE_LOG_DIR:-$(mktemp -d)}
mkdir -p "$logs"
pids=()
created_database=no

flush_redis() {
  python -c 'import redis, sys; redis.Redis.from_url(sys.argv[1]).flushdb()' "$REDIS_URL"
}

# TERM, then KILL for what is still there after 15 s; `killed` names those.
killed=()
stop_processes() {
  local pid deadline
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 15))
  for pid in "${pids[@]}"; do
    while kill -0 -- "-$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if kill -KILL -- "-$pid" 2>/dev/null; then killed+=("$pid"); fi
  done
  pids=()
}

cleanup() {
  local status=$?
  set +e
  stop_processes
  if [ "$status" != 0 ]; then
    for log in "$logs"/*.log; do
      [ -e "$log" ] && say "last lines of $(basename "$log"):" && tail -n 20 "$log"
    done
  fi
  if [ "$created_database" = yes ]; then
    psql -q "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "DROP ROLE IF EXISTS $DB_ROLE" \
      && say "dropped database $DB_NAME and role $DB_ROLE"
  fi
  flush_redis
  [ -n "${SMOKE_LOG_DIR:-}" ] || rm -rf "$logs"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Started in a process group of its own, so that stopping it stops its children too
# (gunicorn's workers, the RQ scheduler's process).
start() {
  local name=$1
  shift
  setsid "$@" >>"$logs/$name.log" 2>&1 &
  pids+=("$!")
}

free_port() {
  python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {
  local what=$1 deadline=$((SECONDS + SMOKE_WAIT_SECONDS))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: no answer within $SMOKE_WAIT_SECONDS s"
    sleep 0.2
  done
}

# The README's commands, in order --------------------------------------------------------

DB_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
export DB_PASSWORD
created_database=yes
psql -q "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE $DB_ROLE LOGIN PASSWORD '$DB_PASSWORD' NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE" \
  -c "CREATE DATABASE $DB_NAME OWNER $DB_ROLE"
checked "role $DB_ROLE (no superuser, no BYPASSRLS) owns database $DB_NAME"

PORT=$(free_port)
export PORTAL_ENV=production SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export DATABASE_URL=postgresql+psycopg://$DB_ROLE:$DB_PASSWORD@127.0.0.1:5432/$DB_NAME
export GUNICORN_BIND=127.0.0.1:$PORT WEB_CONCURRENCY=2
flush_redis

flask --app wsgi db upgrade >>"$logs/setup.log" 2>&1
checked "flask db upgrade"
flask --app wsgi tenant create acme --name "Acme Cloud"
flask --app wsgi user create --tenant acme --email admin@acme.example --name Admin --role admin \
  --password "$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')"
API_KEY=$(flask --app wsgi apikey create --tenant acme --name CRM --by admin@acme.example)
[[ $API_KEY == pp_* ]] || fail "apikey create printed no key"
checked "tenant, admin and API key created by the CLI"

# What a channel manager does first under Leads -> Qualification: with no scoring rules
# yet, a threshold of 0 and no required fields make every lead an MQL, so routing runs.
python - <<'PY' >>"$logs/setup.log" 2>&1
from portal import create_app
from portal.leads import config_services
from portal.tenancy import services
from portal.tenancy.scoping import tenant_scope

with create_app().app_context():
    with tenant_scope(services.tenant_by_slug("acme").id):
        admin = services.key_manager_by_email("admin@acme.example")
        config_services.update_settings({"mql_threshold": 0, "required_fields": []}, actor=admin)
PY

start gunicorn gunicorn -c gunicorn.conf.py wsgi:app
start worker flask --app wsgi rq worker
start cron flask --app wsgi rq cron
start sweep flask --app wsgi sla sweep --loop

BASE=http://127.0.0.1:$PORT
healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/healthz")" = 200 ]; }
wait_for "/healthz" healthy
checked "/healthz answers 200: $(curl -fsS "$BASE/healthz")"

# Checks ---------------------------------------------------------------------------------

header() { tr -d '\r' <"$1" | awk -v name="$2" 'tolower($1) == tolower(name) ":" { print $2 }'; }
field() { python -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

curl -fsS -D "$logs/health.headers" -o /dev/null "$BASE/healthz"
generated=$(header "$logs/health.headers" X-Request-ID)
[[ $generated =~ ^[0-9a-f]{32}$ ]] || fail "a request without an id got X-Request-ID '$generated'"
checked "a request without an id gets one: X-Request-ID $generated"

REQUEST_ID=smoke-$suffix
status=$(curl -sS -o "$logs/lead.json" -D "$logs/lead.headers" -w '%{http_code}' \
  -H "Authorization: Bearer $API_KEY" -H "X-Request-ID: $REQUEST_ID" \
  -H "Content-Type: application/json" \
  --data '{"external_id": "smoke-1", "company_name": "Smoke Test GmbH", "country": "DE"}' \
  "$BASE/api/v1/leads")
[ "$status" = 201 ] || fail "POST /api/v1/leads answered $status: $(cat "$logs/lead.json")"
[ "$(header "$logs/lead.headers" X-Request-ID)" = "$REQUEST_ID" ] \
  || fail "the response did not carry X-Request-ID $REQUEST_ID"
LEAD_ID=$(field id <"$logs/lead.json")
[ "$(field state <"$logs/lead.json")" = mql ] || fail "the lead was not taken in as an MQL"
checked "lead $LEAD_ID taken in through the API as an MQL; X-Request-ID $REQUEST_ID came back"

lead_state() {
  curl -fsS -H "Authorization: Bearer $API_KEY" "$BASE/api/v1/leads/$LEAD_ID" | field state
}
routed() { [ "$(lead_state)" != mql ]; }
wait_for "routing lead $LEAD_ID" routed
# The intake's routing job waits a second for others to join it, so cron's first sweep,
# queued at start, may route the lead before it; the job still runs.
ran_routing_job() { grep -q route_tenant "$logs/worker.log"; }
wait_for "the RQ worker running the routing job" ran_routing_job
checked "the RQ worker routed lead $LEAD_ID: now $(lead_state) (no partner covers it yet)"

cron_registered() { grep -q '"logger": "rq.cron"' "$logs/cron.log"; }
wait_for "rq cron" cron_registered
checked "rq cron registered the periodic jobs: $(grep -c '"rq.cron"' "$logs/cron.log") lines"

for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || fail "a process stopped early (see its log)"
done
stop_processes
[ "${#killed[@]}" = 0 ] || fail "process group(s) ${killed[*]} did not stop on TERM"
checked "gunicorn, the RQ worker, cron and the sweep ran to the end and stopped on TERM"

# Read once every process has stopped, so that no line is still being written.
python - "$REQUEST_ID" "$logs" <<'PY'
import json
import sys
from pathlib import Path

request_id, folder = sys.argv[1], Path(sys.argv[2])
for name in ("gunicorn", "worker", "cron", "sweep"):
    lines = (folder / f"{name}.log").read_text().splitlines()
    for number, line in enumerate(lines, 1):
        try:
            assert isinstance(json.loads(line), dict)
        except (ValueError, AssertionError):
            sys.exit(f"{name}.log line {number} is not a JSON object: {line[:200]}")
    print(f"[deploy-smoke] ok: {name}: {len(lines)} log lines, each a JSON object")
records = [json.loads(line) for line in (folder / "gunicorn.log").read_text().splitlines()]
booted = [r for r in records if r["message"].startswith("Booting worker")]
if len(booted) != 2 or not any(r["message"] == "Using worker: gthread" for r in records):
    sys.exit(f"gunicorn booted {len(booted)} workers, not 2 gthread ones as configured")
print("[deploy-smoke] ok: gunicorn booted 2 workers (WEB_CONCURRENCY=2, gthread)")
ours = [r for r in records if r.get("request_id") == request_id]
access = [r for r in ours if r["logger"] == "portal.access"]
if [(r["method"], r["path"], r["status"]) for r in access] != [("POST", "/api/v1/leads", 201)]:
    sys.exit(f"no one access line of POST /api/v1/leads 201 with request_id {request_id}")
if not access[0].get("tenant_id") or not access[0].get("api_key_id"):
    sys.exit(f"the access line does not name the tenant and the API key: {access[0]}")
print(f"[deploy-smoke] ok: {len(ours)} gunicorn line(s) with request_id {request_id}, the access line:")
print(f"[deploy-smoke]     {json.dumps(access[0])}")
PY
say "passed"
