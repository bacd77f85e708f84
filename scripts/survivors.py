#!/usr/bin/env python3
"""The bugs a hand-run mutation test once let through, each put back into a copy of the project
and run against the test written to kill it: every one must now fail its test.

    scripts/survivors.py            all of them (PostgreSQL needed: DATABASE_URL)
    scripts/survivors.py M4 M9      some

The working tree is never touched: the project's files (``git ls-files``) are copied to a
temporary directory first. Exit status 1 if a mutant survives or no longer applies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    bug: str
    path: str
    original: str
    mutated: str
    test: str


ENGINE = "compliance/reconciliation/engine.py"
ROTATION = "privacy/services/rotation.py"
IDEM = "subscribers/idempotency.py"
GROUND = "tests/compliance/test_reconcile_ground_truth.py"
KEYS = "tests/privacy/test_key_rotation.py"

MUTANTS = [
    Mutant(
        "M1",
        "every run hands over every still-open finding again",
        ENGINE,
        "            first_detected_run=run,\n",
        "",
        f"{GROUND}::test_a_rerun_doubles_nothing",
    ),
    Mutant(
        "M2",
        "hand-over errors swallowed: run and hand-over no longer commit together",
        ENGINE,
        "        handed = _hand_over(run)\n",
        "        try:\n            handed = _hand_over(run)\n        except Exception:\n"
        "            handed = 0\n",
        f"{GROUND}::test_a_failing_hand_over_fails_the_finish_and_commits_nothing_of_it",
    ),
    Mutant(
        "M3",
        "key rotation skips the clarification answers and registration versions",
        ROTATION,
        "    for label in labels[start:]:\n",
        "    for label in [x for x in labels[start:] if not x.startswith('compliance.')]:\n",
        f"{KEYS}::test_every_table_is_re_encrypted_not_just_listed",
    ),
    Mutant(
        "M4",
        "key rotation without a row lock",
        ROTATION,
        "model._base_manager.select_for_update()\n",
        "model._base_manager\n",
        f"{KEYS}::test_an_id_number_changed_during_rotation_is_not_overwritten",
    ),
    Mutant(
        "M5",
        "key rotation does not count unreadable values (a key removed too early)",
        ROTATION,
        '                            counts["unreadable"] += 1\n',
        "                            pass\n",
        f"{KEYS}::test_a_key_removed_too_early_is_reported_not_hidden",
    ),
    Mutant(
        "M6",
        "CSV formula defusing removed from the data-subject export",
        "privacy/exports.py",
        '    return defuse("" if value is None else str(value))\n',
        '    return "" if value is None else str(value)\n',
        "tests/privacy/test_data_subject_requests.py"
        "::test_csv_copy_neutralises_formulas_typed_into_the_data",
    ),
    Mutant(
        "M7",
        "a future deactivation date not capped",
        "privacy/services/retention.py",
        "deactivated_at=min(deactivated[msisdn], now)",
        "deactivated_at=deactivated[msisdn]",
        "tests/privacy/test_deactivations.py"
        "::test_a_deactivation_dated_in_the_future_counts_from_today",
    ),
    Mutant(
        "M8",
        "a restarted worker releases its own fresh claims",
        ENGINE,
        "                mine = mine.filter(claimed_at__lt=booted_at)\n",
        "                pass\n",
        "tests/compliance/test_runs.py"
        "::test_a_restarted_worker_keeps_the_claims_it_made_since_it_started",
    ),
    Mutant(
        "M9",
        "the idempotency photo fingerprint compares sizes, not hashes",
        IDEM,
        '        return {"file_sha256": sha.hexdigest(), "size": value.size}\n',
        '        return {"size": value.size}\n',
        "tests/api/test_registrations_idempotency.py"
        "::test_another_photo_of_the_same_size_is_another_body",
    ),
    Mutant(
        "M10",
        "the JSON round trip of the stored answer removed",
        IDEM,
        "            body = json.loads(json.dumps(body))\n",
        "",
        "tests/api/test_registrations_idempotency.py"
        "::test_the_first_answer_and_its_replay_are_the_same_json",
    ),
]


def default_services() -> None:
    """Like ``scripts/test.sh``: the local PostgreSQL and Redis when DATABASE_URL / REDIS_URL
    are not set and they answer (a database of its own, so a running suite is left alone)."""
    if not os.environ.get("DATABASE_URL") and shutil.which("pg_isready"):
        ready = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False)
        if ready.returncode == 0:
            os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/mutation"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")


def copy_project(source: Path, target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=source,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    for name in files:
        origin = source / name
        if origin.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / name)


def main() -> int:
    default_services()
    wanted = set(sys.argv[1:])
    chosen = [m for m in MUTANTS if not wanted or m.name in wanted]
    python = os.environ.get("PY") or str(ROOT / ".venv" / "bin" / "python")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="survivors-") as tmp:
        work = Path(tmp)
        copy_project(ROOT, work)
        for mutant in chosen:
            path = work / mutant.path
            clean = path.read_text()
            if clean.count(mutant.original) < 1:
                print(f"{mutant.name}: NO LONGER APPLIES ({mutant.path} changed)", flush=True)
                failures += 1
                continue
            path.write_text(clean.replace(mutant.original, mutant.mutated))
            try:
                result = subprocess.run(
                    [python, "-m", "pytest", "-q", "-x", "-p", "no:randomly", mutant.test],
                    cwd=work,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            finally:
                path.write_text(clean)
            killed = result.returncode == 1
            failures += not killed
            verdict = "killed" if killed else f"SURVIVED (pytest exit {result.returncode})"
            print(f"{mutant.name}: {verdict}: {mutant.bug}\n    by {mutant.test}", flush=True)
            if not killed:
                print(result.stdout[-2000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
