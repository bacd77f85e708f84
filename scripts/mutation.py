#!/usr/bin/env python3
"""`make mutation`: mutation testing (mutmut) of the modules where a silent bug costs most.

Each target is mutated on its own, in ``.mutation/<target>/`` (a scratch directory of symlinks to
the project with its own mutmut configuration and its own ``mutants/`` copy), so the working tree
is never modified and each target runs only the tests that exercise it. At the end it prints the
kill rate per module (docs/testing.md holds the figures and the equivalent mutants).

    scripts/mutation.py                 every target
    scripts/mutation.py idrules masking the named ones
    scripts/mutation.py --list          the targets
    scripts/mutation.py --report        the figures of the last runs, without running anything
    scripts/mutation.py retention --only 'privacy.services.retention.x_run_retention_purge*'
                                        some functions of one target (mutant name patterns)
    scripts/mutation.py key-rotation --max-children 1
                                        at most one mutant at a time (a shared machine)

Uses DATABASE_URL / REDIS_URL like the suite (a test database ``test_<name>`` is created once per
target and reused by every mutant).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
APPS = [
    "core",
    "identity",
    "operatordb",
    "accounts",
    "outlets",
    "subscribers",
    "compliance",
    "holders",
    "privacy",
    "reports",
    "risk",
    "registration_portal",
]
ALSO_COPY = ["templates", "static", "locale", "manage.py"]
# target -> (module file, tests that exercise it, mutants run at once). Modules whose tests
# use the database run one mutant at a time (they share one reused test database).
TARGETS: dict[str, tuple[str, list[str], int]] = {
    "idrules": (
        "identity/idrules.py",
        ["tests/subscribers/test_idrules.py", "tests/subscribers/test_idrules_messages.py"],
        2,
    ),
    "masking": (
        "core/masking.py",
        ["tests/core/test_masking.py", "tests/subscribers/test_idrules.py"],
        2,
    ),
    "idempotency": (
        "subscribers/idempotency.py",
        [
            "tests/api/test_registrations_idempotency.py",
            "tests/api/test_idempotency_contract.py",
        ],
        1,
    ),
    # The rule sets' tests judge the cap, the insider and the declared-purpose rules through
    # registration_create (their re-seed test, a migration run of a minute, is left out); the
    # form's, the API's, the registry's, the staff's and the training's tests hold the checks
    # of registration_prepare (the clerk, the outlet, the pack, the consent, the photos).
    "registration-service": (
        "subscribers/services.py",
        [
            "tests/subscribers/test_registration_service.py",
            "tests/subscribers/test_registration_race.py",
            "tests/subscribers/test_rule_sets.py",
            "tests/subscribers/test_population_registry.py",
            "tests/web/test_registration_form.py",
            "tests/api/test_registrations_bad_input.py",
            "tests/outlets/test_staff.py",
            "tests/outlets/test_training.py",
            "tests/subscribers/test_registration_refusals.py",
            # After the write: the photo worker and the orphan sweep, the late verification,
            # the face-photo purge, the reveal of an ID number and the block of a number.
            "tests/subscribers/test_photo_worker.py",
            "tests/subscribers/test_photo_orphans.py",
            "tests/privacy/test_retention.py",
            "tests/web/test_registration_pages.py",
            "tests/api/test_registrations_read.py",
            "tests/workflow/test_review.py",
            "tests/holders/test_numbers.py",
            "tests/commands/test_import_registry.py",
        ],
        1,
    ),
    # The rules are plain functions: their own tests need no database (the ground-truth test
    # holds the engines to them on generated data, minutes per mutant).
    "reconciliation-rules": (
        "compliance/reconciliation/rules.py",
        ["tests/compliance/test_reconciliation_rules.py"],
        1,
    ),
    "reconciliation-engine": (
        "compliance/reconciliation/engine.py",
        [
            "tests/compliance/test_runs.py",
            "tests/compliance/test_incremental.py",
            "tests/compliance/test_reconcile_ground_truth.py",
            # The change sequence (the incremental run's snapshot) and the plan refused while
            # the operator's copy is stale: paths of reconciliation_plan tested there.
            "tests/compliance/test_change_sequence.py",
            "tests/privacy/test_rotation_leftovers.py",
        ],
        1,
    ),
    "key-rotation": ("privacy/services/rotation.py", ["tests/privacy/test_key_rotation.py"], 1),
    "retention": (
        "privacy/services/retention.py",
        [
            "tests/privacy/test_retention.py",
            "tests/privacy/test_deactivations.py",
            "tests/privacy/test_pages.py::test_jobs_page_previews_and_starts_a_purge",
        ],
        1,
    ),
}
# Tests of a target's files that mutmut must not run (too slow for every mutant).
DESELECT: dict[str, list[str]] = {
    "registration-service": [
        "tests/subscribers/test_rule_sets.py::test_reseeding_the_rule_sets_changes_no_registration"
    ],
}

# Seconds added to a target's unmutated test time before the time-out multiplier applies. mutmut
# measures only the tests' own calls, not their fixtures: where the database set-up and a
# transactional test's flush take longer than the calls, a surviving mutant would otherwise be
# stopped before its tests end and counted as killed.
TIMEOUT_CONSTANT: dict[str, int] = {"registration-service": 20}


def default_services() -> None:
    """Like ``scripts/test.sh``: the local PostgreSQL and Redis when DATABASE_URL / REDIS_URL
    are not set and they answer (a database of its own, so a running suite is left alone)."""
    if not os.environ.get("DATABASE_URL") and shutil.which("pg_isready"):
        ready = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False)
        if ready.returncode == 0:
            os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/mutation"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")


def drop_test_database() -> None:
    """Start each run on a fresh test database: a mutant stopped by its time-out in the middle
    of a test that commits (a transactional test, a worker test) leaves rows behind, and every
    test after it would then fail on them — mutants counted as killed by the leftovers."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not shutil.which("psql"):
        return
    base, _, name = url.rpartition("/")
    subprocess.run(
        ["psql", f"{base}/postgres", "-q", "-c", f'DROP DATABASE IF EXISTS "test_{name}"'],
        check=False,
        capture_output=True,
    )


def write_config(name: str, module: str, tests: list[str]) -> Path:
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    for entry in [*APPS, *ALSO_COPY, "tests", "pyproject.toml"]:
        link = work / entry
        if (ROOT / entry).exists() and not link.exists():
            link.symlink_to(ROOT / entry)
    lines = [
        "[mutmut]",
        "source_paths =",
        *(f"    {app}" for app in APPS),
        f"only_mutate = {module}",
        "also_copy =",
        *(f"    {entry}" for entry in ALSO_COPY if (ROOT / entry).exists()),
        "pytest_add_cli_args_test_selection =",
        *(f"    {test}" for test in tests),
        "pytest_add_cli_args =",
        "    -p",
        "    no:randomly",
        "    --reuse-db",
        "    -q",
        *(f"    --deselect={test}" for test in DESELECT.get(name, [])),
        "process_isolation = forkserver",
        # A mutant that loops for ever is stopped after four times (plus a second) the time its
        # tests took unmutated, not mutmut's default fifteen: on the database targets that was
        # a quarter of an hour per endless loop. Four leaves room for a busier machine.
        "timeout_multiplier = 4",
        f"timeout_constant = {TIMEOUT_CONSTANT.get(name, 1)}",
        "use_git_change_detection = false",
        "",
    ]
    (work / "setup.cfg").write_text("\n".join(lines))
    return work


def stats(name: str) -> dict | None:
    work = WORK / name
    if not (work / "mutants").exists():
        return None
    subprocess.run(
        [sys.executable, "-m", "mutmut", "export-cicd-stats"],
        cwd=work,
        check=False,
        capture_output=True,
    )
    path = work / "mutants" / "mutmut-cicd-stats.json"
    return json.loads(path.read_text()) if path.exists() else None


def survivors(name: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "mutmut", "results"],
        cwd=WORK / name,
        check=False,
        capture_output=True,
        text=True,
    )
    return [line.strip() for line in result.stdout.splitlines() if ":" in line]


def report(names: list[str]) -> int:
    head = ("module", "mutants", "killed", "survived", "other", "kill rate")
    print("\n{:<40} {:>8} {:>7} {:>9} {:>6} {:>10}".format(*head))
    below = 0
    for name in names:
        s = stats(name)
        module = TARGETS[name][0]
        if s is None:
            print(f"{module:<40} {'(not run)':>8}")
            continue
        killed = s["killed"] + s["timeout"]  # a mutant that hangs the tests is caught too
        total = s["total"] - s["skipped"]
        other = total - killed - s["survived"]
        rate = 100.0 * killed / total if total else 100.0
        below += rate < 90.0
        print(f"{module:<40} {total:>8} {killed:>7} {s['survived']:>9} {other:>6} {rate:>9.1f}%")
        for line in survivors(name):
            print(f"    {line}")
    print("\nSurviving mutants: `cd .mutation/<target> && ../../.venv/bin/mutmut show <name>`;")
    print("each is either killed by a test or listed as equivalent in docs/testing.md.")
    return below


def main() -> int:
    default_services()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", help="target names (default: all)")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="PATTERN", help="mutant names (globs) to run"
    )
    parser.add_argument(
        "--max-children", type=int, help="mutants at once, at most (default: the target's)"
    )
    args = parser.parse_args()
    if args.list:
        for name, (module, tests, _) in TARGETS.items():
            print(f"{name:<24} {module}  <- {' '.join(tests)}")
        return 0
    unknown = [name for name in args.targets if name not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; --list shows them")
    names = args.targets or list(TARGETS)
    if not args.report:
        for name in names:
            module, tests, children = TARGETS[name]
            if args.max_children:
                children = min(children, args.max_children)
            work = write_config(name, module, tests)
            drop_test_database()
            if args.fresh:
                shutil.rmtree(work / "mutants", ignore_errors=True)
            print(f"== {name}: {module}", flush=True)
            env = {**os.environ, "PYTHONPATH": ""}
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mutmut",
                    "run",
                    "--max-children",
                    str(children),
                    *args.only,
                ],
                cwd=work,
                env=env,
                check=False,
            )
    report(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
