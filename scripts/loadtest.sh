#!/usr/bin/env bash
# `make loadtest`: Satu Pintu under load on a local gunicorn with PostgreSQL, Redis and a Celery
# worker, driven by locust (loadtest/locustfile.py). See docs/load.md.
#
#   1. PostgreSQL and Redis (scripts/ensure-services.sh), the load database created/migrated;
#   2. loadtest/seed.py: outlets with a clerk and starter packs each, reviewers, a regulator,
#      existing registrations and an open review queue; tokens to a JSON file in a temp folder;
#   3. a Celery worker and gunicorn (DEBUG off, 127.0.0.1, a free port);
#   4. the ceiling phase: the same server answering GET /healthz only;
#   5. the mixed phase: clerks registering with photos, reviewers paging the queue, the
#      regulator exporting;
#   6. loadtest/report.py prints the table; exit 1 if any request failed.
# Everything it started is stopped on exit (and on Ctrl-C).
#
# Knobs (environment):
#   LOADTEST_USERS=30            users of the mixed phase (1 regulator, LOADTEST_REVIEWERS
#                                reviewers, the rest outlet clerks)
#   LOADTEST_DURATION=150s       mixed phase (locust's 30s / 3m / 1h30m syntax)
#   LOADTEST_SHORT=1             the CI-sized run: ~1 minute of load (12 users, 40 s mixed,
#                                10 s ceiling) on a smaller seed
#   LOADTEST_REVIEWERS=4  LOADTEST_CEILING_DURATION=20s  LOADTEST_CEILING_USERS=10
#   LOADTEST_WORKERS=4  LOADTEST_WORKER_CLASS=sync   gunicorn, as in the Dockerfile (sync:
#                           one request per process, the connection closed after each answer);
#   LOADTEST_WORKER_CLASS=gthread LOADTEST_THREADS=4     threads instead, with a keep-alive of
#                           75 s (gunicorn's default 2 s resets connections that clients reuse
#                           after a pause of about 2 s: seen here as "connection reset by peer")
#   LOADTEST_CELERY_CONCURRENCY=2   Celery worker processes (prefork), as in docker-compose.yml
#   LOADTEST_REGISTRATIONS=30000  LOADTEST_REVIEW_ITEMS=3000   seeded rows
#   LOADTEST_DATABASE_URL   default: DATABASE_URL's server, database satupintu_load (the name
#                           must contain "load": the seed empties its tables)
#   LOADTEST_REDIS_URL      default: REDIS_URL's server (else 127.0.0.1:6379), database 12,
#                           emptied at the start (broker, cache and throttle counters)
#   LOADTEST_KEEP=1         keep the temp folder (locust CSVs, logs, results JSON)
#   LOADTEST_CAPACITY=1     the capacity run (`make capacity`) instead of the mixed phase:
#                           clerks raised stage by stage (LOADTEST_STAGES="2 4 8 12 16 24 32 48 64",
#                           LOADTEST_STAGE_DURATION=40s each) until the registrations' p99
#                           passes LOADTEST_P99_MS=500, an error appears or the photo worker
#                           falls behind (loadtest/capacity.py); prints the registrations/s of
#                           the last stage that held beside the /healthz ceiling
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

if [ "${LOADTEST_SHORT:-0}" = 1 ]; then
  users_default=12; duration_default=40s; ceiling_default=10s; reviewers_default=2
  registrations_default=5000; items_default=1000
else
  users_default=30; duration_default=150s; ceiling_default=20s; reviewers_default=4
  registrations_default=30000; items_default=3000
fi
USERS="${LOADTEST_USERS:-$users_default}"
DURATION="${LOADTEST_DURATION:-$duration_default}"
CEILING_DURATION="${LOADTEST_CEILING_DURATION:-$ceiling_default}"
CEILING_USERS="${LOADTEST_CEILING_USERS:-10}"
export LOADTEST_REVIEWERS="${LOADTEST_REVIEWERS:-$reviewers_default}"
WORKERS="${LOADTEST_WORKERS:-4}"
WORKER_CLASS="${LOADTEST_WORKER_CLASS:-sync}"
THREADS="${LOADTEST_THREADS:-4}"
if [ "$WORKER_CLASS" = sync ]; then
  server_opts=(--worker-class sync); server_label="${WORKERS} sync workers"
else
  server_opts=(--worker-class "$WORKER_CLASS" --threads "$THREADS" --keep-alive 75)
  server_label="${WORKERS} $WORKER_CLASS workers x $THREADS threads"
fi
CELERY_CONCURRENCY="${LOADTEST_CELERY_CONCURRENCY:-2}"

# The database and Redis of the load test, derived from the usual variables' servers.
eval "$("$PY" - <<'PYTHON'
import os, shlex
from urllib.parse import urlsplit, urlunsplit

db = os.environ.get("LOADTEST_DATABASE_URL")
if not db:
    base = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(base) if base.startswith(("postgres://", "postgresql://")) else None
    db = (
        urlunsplit((parts.scheme, parts.netloc, "/satupintu_load", "", ""))
        if parts else "postgres://postgres@127.0.0.1:5432/satupintu_load"
    )
redis = os.environ.get("LOADTEST_REDIS_URL")
if not redis:
    base = os.environ.get("REDIS_URL", "") or "redis://127.0.0.1:6379/0"
    parts = urlsplit(base)
    redis = urlunsplit((parts.scheme, parts.netloc, "/12", "", ""))
r = urlsplit(redis)
print(f"LOAD_DB={shlex.quote(db)}")
print(f"LOAD_REDIS={shlex.quote(redis)}")
print(f"REDIS_HOST={shlex.quote(r.hostname or '127.0.0.1')} REDIS_PORT={r.port or 6379}")
PYTHON
)"
seconds() { "$PY" -c "import re,sys;t=sys.argv[1];print(int(t) if t.isdigit() else sum(int(n)*{'h':3600,'m':60,'s':1}[u] for n,u in re.findall(r'(\d+)([hms])',t)))" "$1"; }
DURATION_S=$(seconds "$DURATION")
CAPACITY="${LOADTEST_CAPACITY:-0}"
STAGES="${LOADTEST_STAGES:-2 4 8 12 16 24 32 48 64}"
STAGE_DURATION="${LOADTEST_STAGE_DURATION:-40s}"
if [ "$CAPACITY" = 1 ]; then
  # Every stage has clerks (and so packs) of its own: as many clerks as all stages together.
  USERS=0; for n in $STAGES; do USERS=$((USERS + n)); done
  DURATION_S=$(seconds "$STAGE_DURATION")
fi
# A clerk registers at most about once a second (1 s minimum pause): packs for the whole run.
PACKS=$((DURATION_S + 60))

echo "== make loadtest: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "   database $LOAD_DB, redis $LOAD_REDIS"
if [ "$CAPACITY" = 1 ]; then
  echo "   capacity: clerk stages $STAGES, $STAGE_DURATION each;" \
     "ceiling: $CEILING_USERS users for $CEILING_DURATION; gunicorn $server_label," \
     "celery x$CELERY_CONCURRENCY"
else echo "   mixed: $USERS users ($LOADTEST_REVIEWERS reviewers, 1 regulator) for $DURATION;" \
     "ceiling: $CEILING_USERS users for $CEILING_DURATION; gunicorn $server_label," \
     "celery x$CELERY_CONCURRENCY"
fi

case "$REDIS_HOST" in
  127.0.0.1|localhost) REDIS_PORT="$REDIS_PORT" WITH_BROWSER=0 scripts/ensure-services.sh ;;
  *) echo "   (Redis is not local: not started here)" ;;
esac

export DJANGO_SETTINGS_MODULE=registration_portal.settings.local
export DEBUG=0 DATABASE_URL="$LOAD_DB" REDIS_URL="$LOAD_REDIS"
export CONN_MAX_AGE=600 LOG_LEVEL=WARNING PYTHONWARNINGS="ignore::UserWarning"

"$PY" - <<'PYTHON'
import os

import environ
import psycopg2
import redis
from psycopg2 import sql

config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
if "postgresql" not in config["ENGINE"] or "load" not in config["NAME"]:
    raise SystemExit(f"make loadtest runs on a PostgreSQL database named *load*, not {config['NAME']!r}")
conn = psycopg2.connect(
    dbname="postgres", user=config["USER"], password=config["PASSWORD"],
    host=config["HOST"], port=config["PORT"] or 5432,
)
conn.autocommit = True
with conn.cursor() as cursor:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
    if cursor.fetchone() is None:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
        print(f"   created database {config['NAME']}")
conn.close()
# This Redis database is the load test's own: queued tasks and counters of a previous run go.
redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
PYTHON
"$PY" manage.py migrate --noinput -v0

WORK="$(mktemp -d -t satupintu-loadtest.XXXXXX)"
export PRIVATE_MEDIA_ROOT="$WORK/media"
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${LOADTEST_KEEP:-0}" = 1 ]; then echo "   kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PY" loadtest/seed.py --out "$WORK/people.json" --clerks "$USERS" --packs "$PACKS" \
  --reviewers "$LOADTEST_REVIEWERS" --registrations "${LOADTEST_REGISTRATIONS:-$registrations_default}" \
  --review-items "${LOADTEST_REVIEW_ITEMS:-$items_default}"

"$PY" -m celery -A registration_portal worker --pool=prefork -c "$CELERY_CONCURRENCY" \
  -l warning >"$WORK/celery.log" 2>&1 &
pids+=($!)
PORT=$("$PY" -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
"$PY" -m gunicorn registration_portal.wsgi --bind "127.0.0.1:$PORT" "${server_opts[@]}" \
  --workers "$WORKERS" --timeout 60 --log-level warning \
  >"$WORK/gunicorn.log" 2>&1 &
pids+=($!)
HOST="http://127.0.0.1:$PORT"
for _ in $(seq 120); do
  curl -fsS -o /dev/null "$HOST/healthz" 2>/dev/null && break
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$WORK/gunicorn.log"; exit 1; }
  sleep 0.5
done
curl -fsS -o /dev/null "$HOST/readyz" || { echo "readyz failed"; cat "$WORK/gunicorn.log"; exit 1; }

export LOADTEST_PEOPLE="$WORK/people.json"
run_phase() {  # name, users, spawn rate, duration, user classes...
  local name=$1 users=$2 rate=$3 duration=$4; shift 4
  echo "== $name phase: $users users for $duration ($*)"
  LOADTEST_PHASE="$name" LOADTEST_RESULTS="$WORK/$name.json" \
    "$PY" -m locust -f loadtest/locustfile.py "$@" --headless --host "$HOST" \
      -u "$users" -r "$rate" -t "$duration" --stop-timeout 15 --csv "$WORK/$name" \
      --only-summary --loglevel WARNING --exit-code-on-error 0 >"$WORK/locust-$name.log" 2>&1 \
    || { echo "locust failed:"; tail -30 "$WORK/locust-$name.log"; return 1; }
}
run_phase ceiling "$CEILING_USERS" "$CEILING_USERS" "$CEILING_DURATION" HealthUser
if [ "$CAPACITY" = 1 ]; then
  offset=0; stages=()
  for n in $STAGES; do
    stages+=("$WORK/capacity-$n.json")
    LOADTEST_CLERK_OFFSET=$offset \
      run_phase "capacity-$n" "$n" "$n" "$STAGE_DURATION" ClerkUser
    offset=$((offset + n))
    "$PY" loadtest/capacity.py stage "$WORK/capacity-$n.json" || break
  done
  echo
  status=0
  "$PY" loadtest/capacity.py report "$WORK/ceiling.json" "${stages[@]}" || status=$?
  exit "$status"
fi
"$PY" loadtest/cpu.py "$WORK/cpu-before.json" celery="${pids[0]}" gunicorn="${pids[1]}"
run_phase mixed "$USERS" "$(( (USERS + 4) / 5 ))" "$DURATION" ClerkUser ReviewerUser RegulatorUser
"$PY" loadtest/cpu.py "$WORK/cpu-after.json" celery="${pids[0]}" gunicorn="${pids[1]}"

echo
status=0
"$PY" loadtest/report.py "$WORK/ceiling.json" "$WORK/mixed.json" \
  --cpu-before "$WORK/cpu-before.json" --cpu-after "$WORK/cpu-after.json" || status=$?
if [ -s "$WORK/gunicorn.log" ] && grep -q "Traceback\|ERROR" "$WORK/gunicorn.log"; then
  echo "gunicorn logged errors:"; grep -m 20 -A 3 "Traceback\|ERROR" "$WORK/gunicorn.log"
fi
if grep -q "Traceback\|ERROR" "$WORK/celery.log"; then
  echo "the Celery worker logged errors:"; grep -m 20 -A 3 "Traceback\|ERROR" "$WORK/celery.log"
fi
exit "$status"
