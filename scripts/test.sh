#!/usr/bin/env bash
# `make test`: the whole suite. Uses DATABASE_URL / REDIS_URL when set; otherwise the local
# PostgreSQL and Redis if they answer (scripts/ensure-services.sh starts them), else SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
if [ -z "${DATABASE_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  export DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
fi
if [ -z "${REDIS_URL:-}" ] && command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  export REDIS_URL="redis://127.0.0.1:6379/0"
fi
echo "make test: DATABASE_URL=${DATABASE_URL:-<sqlite>} REDIS_URL=${REDIS_URL:-<none>}"
exec "$PY" -m pytest "$@"
