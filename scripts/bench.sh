#!/usr/bin/env bash
# `make bench`: the benchmarks, on PostgreSQL, each figure printed beside its floor measured in
# the same run. DATABASE_URL defaults to a database of its own (satupintu_bench), created and
# migrated here; the benchmarks empty its registration, pack and audit tables.
#   scripts/bench.sh            every bench/bench_*.py
#   scripts/bench.sh import     only bench/bench_import.py (or: registration_api, reconcile,
#                               reports, review_queue, scale_workers)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/satupintu_bench}"
export DJANGO_SETTINGS_MODULE=registration_portal.settings.local
export DEBUG=0

# Create the database if it is missing and migrate it (bench/common.py, as the benchmarks do).
"$PY" -c "from bench.common import ensure_database; ensure_database()"

benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
  for script in bench/bench_*.py; do benches+=("$(basename "$script" .py | sed 's/^bench_//')"); done
fi
echo "make bench: DATABASE_URL=$DATABASE_URL, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
for name in "${benches[@]}"; do
  echo; echo "== bench/bench_$name.py"
  "$PY" "bench/bench_$name.py"
done
