"""Summarise the phases of a load test: the table ``make loadtest`` prints.

    python loadtest/report.py CEILING.json MIXED.json [--markdown]

Each file is what the locustfile recorded for one phase (``LOADTEST_RESULTS``): every request
with its finishing time. For each phase and request type: requests, requests per second (over
the phase), median, p95, p99 and max latency, errors. Then the sustained registrations per
second — successful registrations (retries left out) finishing between the moment every user
had started and the end, divided by that time — beside the ceiling, the same server answering
``GET /healthz`` only. Exits 1 if any request failed, 2 if a phase recorded nothing.
"""

import argparse
import json
import math
import os
import sys
from collections import Counter, defaultdict

REGISTRATION = "POST /api/v1/registrations/"
HEALTH = "GET /healthz"


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def load_phase(path: str) -> dict:
    with open(path) as fh:
        return json.load(fh)


def phase_rows(phase: dict) -> tuple[list[list[str]], dict]:
    marks = phase["marks"]
    duration = max(marks["stop"] - marks["start"], 1e-9)
    by_name: dict[str, list] = defaultdict(list)
    for name, _at, ms, failed, message in phase["records"]:
        by_name[name].append((ms, failed, message))
    rows, stats = [], {}
    for name in sorted(by_name):
        records = by_name[name]
        ok = sorted(ms for ms, failed, _ in records if not failed)
        errors = sum(1 for _, failed, _ in records if failed)
        figures = {
            "requests": len(records),
            "per_s": len(records) / duration,
            "median": percentile(ok, 0.5),
            "p95": percentile(ok, 0.95),
            "p99": percentile(ok, 0.99),
            "max": ok[-1] if ok else float("nan"),
            "errors": errors,
        }
        stats[name] = figures
        rows.append(
            [
                name,
                str(figures["requests"]),
                f"{figures['per_s']:.1f}",
                *(f"{figures[k]:.0f}" for k in ("median", "p95", "p99", "max")),
                str(errors),
            ]
        )
    return rows, stats


def sustained(phase: dict, name: str) -> tuple[float, float, int]:
    """(per second, seconds, count) of successful ``name`` requests in the steady state."""
    marks = phase["marks"]
    begin = marks.get("spawned", marks["start"])
    seconds = max(marks["stop"] - begin, 1e-9)
    count = sum(
        1
        for record_name, at, _ms, failed, _msg in phase["records"]
        if record_name == name and not failed and begin <= at <= marks["stop"]
    )
    return count / seconds, seconds, count


def table(title: str, header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    cells = [header, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = [title]
    for index, row in enumerate(cells):
        out.append(
            "  "
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(out) + "\n"


def cpu_table(before_path: str, after_path: str, mixed: dict, markdown: bool) -> str:
    """Core-seconds each part used during the mixed phase, and its share of the machine."""
    with open(before_path) as fh:
        before = json.load(fh)
    with open(after_path) as fh:
        after = json.load(fh)
    seconds = max(after["at"] - before["at"], 1e-9)
    used = {
        name: after[name] - before.get(name, 0.0)
        for name in after
        if name not in ("at", "postgres", "photos")
    }
    used["postgres (load database backends)"] = sum(
        cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items()
    )
    used["locust (the load generator)"] = mixed["marks"].get("client_cpu", float("nan"))
    cores = os.cpu_count() or 1
    rows = [
        [name, f"{cpu:.1f}", f"{cpu / seconds:.2f}", f"{100 * cpu / seconds / cores:.0f} %"]
        for name, cpu in used.items()
    ]
    total = sum(used.values())
    rows.append(["all of the above", f"{total:.1f}", f"{total / seconds:.2f}",
                 f"{100 * total / seconds / cores:.0f} %"])  # fmt: skip
    photos = after.get("photos", {})
    done = photos.get("ready", 0) - before.get("photos", {}).get("ready", 0)
    return table(
        f"photo clean-up (Celery): {done} registrations' photos done during the phase,"
        f" {photos.get('pending', 0)} still queued at its end\n"
        f"CPU during the mixed phase ({seconds:.0f} s, {cores} cores)",
        ["process", "CPU s", "cores busy", "of the machine"],
        rows,
        markdown,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ceiling")
    parser.add_argument("mixed")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--cpu-before", help="loadtest/cpu.py snapshot at the mixed phase's start")
    parser.add_argument("--cpu-after", help="... and at its end")
    args = parser.parse_args()
    ceiling, mixed = load_phase(args.ceiling), load_phase(args.mixed)
    header = ["request", "requests", "req/s", "median ms", "p95 ms", "p99 ms", "max ms", "errors"]
    all_errors: Counter = Counter()
    stats = {}
    for label, phase in (("ceiling", ceiling), ("mixed", mixed)):
        if not phase["records"]:
            print(f"the {label} phase recorded no request", file=sys.stderr)
            return 2
        rows, stats[label] = phase_rows(phase)
        seconds = phase["marks"]["stop"] - phase["marks"]["start"]
        print(
            table(
                f"{label} phase: {phase['users']} users, {seconds:.0f} s",
                header,
                rows,
                args.markdown,
            )
        )
        for name, _at, _ms, failed, message in phase["records"]:
            if failed:
                all_errors[(label, name, message)] += 1

    rate, seconds, count = sustained(mixed, REGISTRATION)
    registration = stats["mixed"].get(REGISTRATION, {})
    health = stats["ceiling"].get(HEALTH, {})
    health_rate = sustained(ceiling, HEALTH)[0]
    summary = [
        [
            "sustained registrations/s (mixed, steady state)",
            f"{rate:.1f}",
            f"{registration.get('median', float('nan')):.0f}",
            f"{registration.get('p99', float('nan')):.0f}",
            str(sum(s["errors"] for s in stats["mixed"].values())),
        ],
        [
            "ceiling: GET /healthz/s (same server, alone)",
            f"{health_rate:.1f}",
            f"{health.get('median', float('nan')):.0f}",
            f"{health.get('p99', float('nan')):.0f}",
            str(sum(s["errors"] for s in stats["ceiling"].values())),
        ],
    ]
    load = os.getloadavg()
    print(
        table(
            f"summary ({count} registrations in {seconds:.0f} s of steady state; "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end)",
            ["", "per second", "median ms", "p99 ms", "errors (phase)"],
            summary,
            args.markdown,
        )
    )
    if args.cpu_before and args.cpu_after:
        print(cpu_table(args.cpu_before, args.cpu_after, mixed, args.markdown))
    if all_errors:
        print(f"ERRORS: {sum(all_errors.values())} failed requests, e.g.:")
        for (label, name, message), n in all_errors.most_common(8):
            print(f"  {n:5d} x {label} {name}: {message}")
        return 1
    print("errors: none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
