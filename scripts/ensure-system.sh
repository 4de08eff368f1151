#!/usr/bin/env bash
# Make sure what the test suite needs outside Python is installed and running:
# PostgreSQL, Redis and Chromium. Installs through apt when missing (as root), starts the
# servers when they are down, and fails loudly when it cannot: the suite never skips them.
set -euo pipefail

PGHOST_ADDR=${PGHOST_ADDR:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
apt_updated=no

say() { printf '[ensure-system] %s\n' "$*"; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "cannot install $* (need root and apt-get): install it and run again"; exit 1
  fi
  if [ "$apt_updated" = no ]; then apt-get update -qq; apt_updated=yes; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  say "installing Debian's chromium for the browser tests"
  apt_install chromium
}

postgres_up() { pg_isready -q -h "$PGHOST_ADDR" -p 5432 2>/dev/null; }

ensure_postgres() {
  command -v pg_ctlcluster >/dev/null || { say "installing postgresql"; apt_install postgresql; }
  if postgres_up; then return; fi
  say "starting PostgreSQL"
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 30); do postgres_up && return; sleep 1; done
  say "PostgreSQL does not answer on $PGHOST_ADDR:5432"; exit 1
}

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  command -v redis-server >/dev/null || { say "installing redis-server"; apt_install redis-server; }
  if redis_up; then return; fi
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
  for _ in $(seq 1 30); do redis_up && return; sleep 1; done
  say "Redis does not answer on 127.0.0.1:$REDIS_PORT"; exit 1
}

ensure_chromium
ensure_postgres
ensure_redis
say "PostgreSQL, Redis and Chromium are ready"
