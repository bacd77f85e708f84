"""The capacity run of ``make capacity``: how many registrations a second this machine serves
before a clerk waits too long — the figure an operator sizes hardware from.

    python loadtest/capacity.py stage STAGE.json        # judge one stage; exit 1 when it fails
    python loadtest/capacity.py report CEILING.json STAGE.json...

``scripts/loadtest.sh`` (``LOADTEST_CAPACITY=1``) raises the number of clerks stage by stage
(clerks only, each pausing 1–3 s between buyers as at a counter) and asks this script after
each stage whether it held: the registrations' p99 at most ``LOADTEST_P99_MS`` (500), no
error, and the photo processing keeping up — the photos queued during the stage cleaned up
by the Celery worker within ``LOADTEST_DRAIN_S`` (15) seconds of its end. The first stage that
does not hold ends the run; the capacity is the sustained registrations/s of the last stage
that held, printed beside the ceiling (the same server answering ``GET /healthz`` only).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from loadtest.report import HEALTH, REGISTRATION, load_phase, phase_rows, sustained, table

P99_MS = float(os.environ.get("LOADTEST_P99_MS", "500"))
DRAIN_S = float(os.environ.get("LOADTEST_DRAIN_S", "15"))


def pending_photos() -> int:
    """Registrations whose photos the worker has not cleaned up yet."""
    from loadtest.cpu import connect

    conn = connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM subscribers_registration WHERE photo_status = 'pending'"
            )
            return cursor.fetchone()[0]
    finally:
        conn.close()


def drain_seconds(limit: float) -> tuple[float, int]:
    """Seconds until no photo waits (polled every half second, up to ``limit``), and how many
    waited when the stage ended."""
    started = time.monotonic()
    at_end = pending_photos()
    left = at_end
    while left and time.monotonic() - started < limit:
        time.sleep(0.5)
        left = pending_photos()
    return (time.monotonic() - started if not left else float("inf")), at_end


def judge(path: str) -> dict:
    phase = load_phase(path)
    _, stats = phase_rows(phase)
    registration = stats.get(REGISTRATION, {})
    rate, _seconds, count = sustained(phase, REGISTRATION)
    drained, queued = drain_seconds(DRAIN_S)
    verdict = {
        "users": phase["users"],
        "per_s": rate,
        "count": count,
        "median": registration.get("median", float("nan")),
        "p99": registration.get("p99", float("nan")),
        "errors": sum(s["errors"] for s in stats.values()),
        "queued_photos": queued,
        "drain_s": drained,
    }
    reasons = []
    if not count:
        reasons.append("no registration succeeded")
    if verdict["p99"] > P99_MS:
        reasons.append(f"p99 {verdict['p99']:.0f} ms > {P99_MS:.0f} ms")
    if verdict["errors"]:
        reasons.append(f"{verdict['errors']} errors")
    if drained > DRAIN_S:
        reasons.append(f"photos not cleaned up within {DRAIN_S:.0f} s of the stage's end")
    verdict["failed"] = "; ".join(reasons)
    return verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    stage = sub.add_parser("stage")
    stage.add_argument("result")
    report = sub.add_parser("report")
    report.add_argument("ceiling")
    report.add_argument("stages", nargs="+")
    args = parser.parse_args()

    if args.command == "stage":
        verdict = judge(args.result)
        Path(args.result).with_suffix(".verdict.json").write_text(json.dumps(verdict))
        status = f"FAILED: {verdict['failed']}" if verdict["failed"] else "held"
        print(
            f"   {verdict['users']} clerks: {verdict['per_s']:.1f} registrations/s, p99 "
            f"{verdict['p99']:.0f} ms, {verdict['errors']} errors, {verdict['queued_photos']} "
            f"photos queued at the end — {status}"
        )
        return 1 if verdict["failed"] else 0

    ceiling = load_phase(args.ceiling)
    health_rate = sustained(ceiling, HEALTH)[0]
    rows, held = [], None
    for path in args.stages:
        verdict = json.loads(Path(path).with_suffix(".verdict.json").read_text())
        drain = "–" if verdict["drain_s"] == float("inf") else f"{verdict['drain_s']:.1f}"
        rows.append(
            [
                str(verdict["users"]),
                f"{verdict['per_s']:.1f}",
                f"{verdict['median']:.0f}",
                f"{verdict['p99']:.0f}",
                str(verdict["errors"]),
                str(verdict["queued_photos"]),
                drain,
                verdict["failed"] or "held",
            ]
        )
        if not verdict["failed"]:
            held = verdict
    load = os.getloadavg()
    print(
        table(
            f"capacity run: clerks raised stage by stage until p99 > {P99_MS:.0f} ms, an error,"
            f" or photos not cleaned up within {DRAIN_S:.0f} s (load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end)",
            ["clerks", "registrations/s", "median ms", "p99 ms", "errors", "photos queued",
             "drained in s", "stage"],
            rows,
            False,
        )
    )  # fmt: skip
    if held is None:
        print("capacity: not even the first stage held")
        return 1
    print(
        f"capacity: {held['per_s']:.1f} registrations/s with {held['users']} clerks (p99 "
        f"{held['p99']:.0f} ms), beside the ceiling of {health_rate:.0f} GET /healthz/s on the "
        f"same server"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
