#!/usr/bin/env bash
# `make run`: migrate, load the demo data once, then serve the portal with a Celery worker and
# beat. Embedded defaults (SQLite file, filesystem:// broker) unless DATABASE_URL / REDIS_URL are
# set. Ctrl-C (or TERM) stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-registration_portal.settings.local}"

"$PY" manage.py migrate --noinput
"$PY" manage.py compilemessages --ignore=.venv >/dev/null 2>&1 || true
if [ ! -f .demo-seeded ] || [ -n "${DATABASE_URL:-}" ]; then
  # seed_demo is idempotent; the marker only saves a few seconds on the next start.
  "$PY" manage.py seed_demo && touch .demo-seeded
fi

pids=()
cleanup() {
  trap - EXIT INT TERM
  if [ -n "${watcher:-}" ]; then kill "$watcher" 2>/dev/null || true; fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

mkdir -p .celery
"$PY" -m celery -A registration_portal worker -B --pool=solo -l info \
  -s .celery/beat-schedule &
pids+=($!)
"$PY" manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}" &
pids+=($!)
# `make run` killed with TERM dies without passing it on: whoever started this script going
# away (its parent gone) stops everything too, instead of leaving the server and worker behind.
parent=$PPID
( while kill -0 "$parent" 2>/dev/null; do sleep 1; done; kill -TERM $$ 2>/dev/null ) &
watcher=$!
echo "Satu Pintu: http://${HOST:-127.0.0.1}:${PORT:-8000}/  (Ctrl-C stops the server, worker and beat)"
wait -n "${pids[@]}"
