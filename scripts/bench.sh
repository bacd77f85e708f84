#!/usr/bin/env bash
# `make bench`: the benchmarks, on PostgreSQL, each figure printed beside its floor measured in
# the same run. DATABASE_URL defaults to a database of its own (satupintu_bench), created and
# migrated here; the benchmarks empty its registration, pack and audit tables.
#   scripts/bench.sh            every bench/bench_*.py
#   scripts/bench.sh import     only bench/bench_import.py (or: registration_api, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/satupintu_bench}"
export DJANGO_SETTINGS_MODULE=registration_portal.settings.local
export DEBUG=0

"$PY" - <<'PYTHON'
import os

import environ
import psycopg2
from psycopg2 import sql

config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
if "postgresql" not in config["ENGINE"]:
    raise SystemExit("make bench runs on PostgreSQL: set DATABASE_URL to a postgres:// URL")
conn = psycopg2.connect(
    dbname="postgres", user=config["USER"], password=config["PASSWORD"],
    host=config["HOST"], port=config["PORT"] or 5432,
)
conn.autocommit = True
with conn.cursor() as cursor:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
    if cursor.fetchone() is None:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
        print(f"created database {config['NAME']}")
conn.close()
PYTHON
"$PY" manage.py migrate --noinput -v0

benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
  for script in bench/bench_*.py; do benches+=("$(basename "$script" .py | sed 's/^bench_//')"); done
fi
echo "make bench: DATABASE_URL=$DATABASE_URL, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
for name in "${benches[@]}"; do
  echo; echo "== bench/bench_$name.py"
  "$PY" "bench/bench_$name.py"
done
