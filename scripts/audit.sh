#!/usr/bin/env bash
# `make audit`: the installed, pinned dependencies (requirements.txt + requirements-dev.txt, as
# `make install` put them in .venv) checked against the known-vulnerability database by
# pip-audit, judged by scripts/audit_gate.py against audit-exceptions.toml.
# AUDIT_STRICT=1 also fails when the vulnerability service cannot be reached for a package.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
strict=()
[ "${AUDIT_STRICT:-0}" = 1 ] && strict=(--strict)
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# pip-audit exits 1 when it finds something; the gate decides.
"$PY" -m pip_audit --progress-spinner off --format json --timeout "${AUDIT_TIMEOUT:-20}" >"$report" || true
if [ ! -s "$report" ]; then
  echo "audit: pip-audit produced no report" >&2
  exit 2
fi
exec "$PY" scripts/audit_gate.py --report "$report" "${strict[@]}"
