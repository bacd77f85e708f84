#!/usr/bin/env bash
# Idempotent: install (when missing and we may) and start PostgreSQL + Redis, make sure the test
# role and database exist, and install Debian's Chromium for the browser tests.
# Safe on a machine where they already run; a second run takes a fraction of a second.
set -euo pipefail
PGPORT="${PGPORT:-5432}"; PG_CLUSTER="${PG_CLUSTER:-main}"
PGROLE="${PGROLE:-postgres}"; PGPASS="${PGPASS:-postgres}"; PGDB="${PGDB:-test}"
REDIS_PORT="${REDIS_PORT:-6379}"

SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
fi

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server  >/dev/null || missing+=(redis-server)
# The backup and restore scripts (and their test) use PostgreSQL's own client tools; the
# translation gate compiles the catalogue with gettext's msgfmt.
command -v pg_dump       >/dev/null || missing+=(postgresql-client)
command -v msgfmt        >/dev/null || missing+=(gettext)
if [ "${WITH_BROWSER:-1}" = 1 ] && ! command -v chromium >/dev/null; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null; then
    echo "ensure-services: cannot install ${missing[*]} (needs root and apt-get); tests that need them will skip" >&2
  else
    echo "ensure-services: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# --- PostgreSQL (pg_ctlcluster start exits 2 if already running: test first) ---
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p "$PGPORT"; then
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  if [ -n "$ver" ]; then
    ${SUDO/none/} pg_ctlcluster --skip-systemctl-redirect "$ver" "$PG_CLUSTER" start || true
    for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p "$PGPORT" && break; sleep 0.5; done
  fi
fi
if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p "$PGPORT"; then
  # Only touch roles/databases if the URL does not work yet. A role with a password works under
  # trust auth and under scram-sha-256 (Debian's default pg_hba) alike.
  if ! PGPASSWORD="$PGPASS" psql -h 127.0.0.1 -p "$PGPORT" -U "$PGROLE" -d "$PGDB" -Atqc 'select 1' >/dev/null 2>&1; then
    su postgres -c "psql -q -p $PGPORT -v ON_ERROR_STOP=1" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PGROLE') THEN
    CREATE ROLE "$PGROLE" LOGIN CREATEDB PASSWORD '$PGPASS';
  ELSE
    ALTER ROLE "$PGROLE" LOGIN CREATEDB PASSWORD '$PGPASS';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE "$PGDB" OWNER "$PGROLE"' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PGDB')\gexec
SQL
  fi
fi

# --- Redis (redis-server --daemonize exits 0 even if the port is taken: ping instead) ---
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --logfile "/tmp/redis-$REDIS_PORT.log"
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "ensure-services: postgres $(pg_isready -h 127.0.0.1 -p "$PGPORT" >/dev/null 2>&1 && echo up || echo down)," \
     "redis $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null || echo down)," \
     "chromium $(command -v chromium || echo missing)"
