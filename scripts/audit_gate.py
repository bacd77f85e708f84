"""The dependency audit's verdict: `pip-audit`'s JSON report judged against the explained
exceptions in ``audit-exceptions.toml``.

    pip-audit -f json | python scripts/audit_gate.py            # what `make audit` does
    python scripts/audit_gate.py --report report.json [--strict]

Exit status:
- 0: no known vulnerability, or each one found has an exception with a reason that has not
  expired; also when the vulnerability service could not be reached for any package (the
  report then says UNVERIFIED loudly), unless ``--strict``;
- 1: a vulnerability without a valid exception, an exception without a reason or past its
  ``until`` date, or (``--strict``) packages that could not be audited;
- 2: the report or the exceptions file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXCEPTIONS_FILE = ROOT / "audit-exceptions.toml"


@dataclass(frozen=True)
class Waiver:
    id: str
    package: str
    reason: str
    until: date | None


@dataclass
class Verdict:
    audited: int
    unaudited: list[str]
    explained: list[str]
    unexplained: list[str]
    bad_exceptions: list[str]

    def failed(self, *, strict: bool) -> bool:
        return bool(self.unexplained or self.bad_exceptions or (strict and self.unaudited))


def load_exceptions(path: Path) -> list[Waiver]:
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    found = []
    for entry in data.get("exception", []):
        until = entry.get("until")
        if isinstance(until, str):
            until = date.fromisoformat(until)
        found.append(
            Waiver(
                id=str(entry.get("id", "")).strip(),
                package=str(entry.get("package", "")).strip().lower(),
                reason=str(entry.get("reason", "")).strip(),
                until=until,
            )
        )
    return found


def judge(report: dict, exceptions: list[Waiver], *, today: date) -> Verdict:
    verdict = Verdict(audited=0, unaudited=[], explained=[], unexplained=[], bad_exceptions=[])
    valid: dict[tuple[str, str], Waiver] = {}
    for exc in exceptions:
        if not exc.id or not exc.package:
            verdict.bad_exceptions.append(f"{exc.id or '?'}: needs both 'id' and 'package'")
        elif len(exc.reason) < 20:
            verdict.bad_exceptions.append(f"{exc.id} ({exc.package}): no reason written down")
        elif exc.until is not None and exc.until < today:
            verdict.bad_exceptions.append(f"{exc.id} ({exc.package}): expired on {exc.until}")
        else:
            valid[(exc.package, exc.id.upper())] = exc
    for dep in report.get("dependencies", []):
        name = str(dep.get("name", "")).lower()
        if "skip_reason" in dep:
            verdict.unaudited.append(" ".join(filter(None, (name, dep.get("version")))))
            continue
        verdict.audited += 1
        for vuln in dep.get("vulns", []):
            ids = {str(vuln.get("id", "")).upper(), *(a.upper() for a in vuln.get("aliases", []))}
            label = f"{name} {dep.get('version')}: {vuln.get('id')}"
            fixes = vuln.get("fix_versions") or []
            if fixes:
                label += f" (fixed in {', '.join(fixes)})"
            if any((name, i) in valid for i in ids):
                verdict.explained.append(label)
            else:
                verdict.unexplained.append(label)
    return verdict


def render(verdict: Verdict, *, strict: bool) -> str:
    lines = [f"dependency audit: {verdict.audited} package(s) audited"]
    if verdict.unaudited:
        lines.append(
            f"UNVERIFIED: {len(verdict.unaudited)} package(s) could not be checked (the "
            "vulnerability service did not answer for them): "
            + ", ".join(verdict.unaudited[:8])
            + (" …" if len(verdict.unaudited) > 8 else "")
        )
        if not strict:
            lines.append(
                "  (not a failure without --strict; run `AUDIT_STRICT=1 make audit` on a machine "
                "that reaches pypi.org's JSON API or OSV — see docs/security.md)"
            )
    lines += [f"explained (audit-exceptions.toml): {x}" for x in verdict.explained]
    lines += [f"VULNERABLE, not explained: {x}" for x in verdict.unexplained]
    lines += [f"BAD EXCEPTION: {x}" for x in verdict.bad_exceptions]
    if verdict.failed(strict=strict):
        pass
    elif verdict.unaudited:
        total = verdict.audited + len(verdict.unaudited)
        lines.append(
            f"NOT A CLEAN AUDIT: passed with {len(verdict.unaudited)} of {total} package(s) "
            "unverified; nothing is known about their vulnerabilities (exit 0 only because "
            "--strict is off)"
        )
    else:
        lines.append("no known vulnerability left unexplained")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, help="pip-audit JSON (default: standard input)")
    parser.add_argument("--exceptions", type=Path, default=EXCEPTIONS_FILE)
    parser.add_argument("--strict", action="store_true", help="fail when a package is unaudited")
    args = parser.parse_args(argv)
    try:
        text = args.report.read_text() if args.report else sys.stdin.read()
        report = json.loads(text)
        exceptions = load_exceptions(args.exceptions)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"audit_gate: cannot read the report or the exceptions: {exc}", file=sys.stderr)
        return 2
    verdict = judge(report, exceptions, today=date.today())
    print(render(verdict, strict=args.strict))
    return 1 if verdict.failed(strict=args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
