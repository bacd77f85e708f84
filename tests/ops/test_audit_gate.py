"""The dependency audit's gate (scripts/audit_gate.py): a known vulnerability fails CI unless an
exception in audit-exceptions.toml explains it; the exceptions themselves are checked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATE = ROOT / "scripts" / "audit_gate.py"

VULNERABLE = {
    "dependencies": [
        {"name": "Django", "version": "5.2.19", "vulns": []},
        {
            "name": "somelib",
            "version": "1.0",
            "vulns": [
                {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fix_versions": ["1.1"]}
            ],
        },
    ]
}
UNREACHABLE = {
    "dependencies": [
        {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited"}
    ]
}


def _gate(tmp_path, report, exceptions="", *args):
    (tmp_path / "report.json").write_text(json.dumps(report))
    (tmp_path / "exceptions.toml").write_text(exceptions)
    return subprocess.run(
        [
            sys.executable,
            str(GATE),
            "--report",
            str(tmp_path / "report.json"),
            "--exceptions",
            str(tmp_path / "exceptions.toml"),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_clean_report_passes(tmp_path):
    result = _gate(tmp_path, {"dependencies": [{"name": "django", "version": "5.2", "vulns": []}]})
    assert result.returncode == 0
    assert "1 package(s) audited" in result.stdout
    assert "no known vulnerability left unexplained" in result.stdout


def test_an_unexplained_vulnerability_fails_and_is_named(tmp_path):
    result = _gate(tmp_path, VULNERABLE)
    assert result.returncode == 1
    assert "VULNERABLE, not explained: somelib 1.0: PYSEC-2099-1 (fixed in 1.1)" in result.stdout


@pytest.mark.parametrize("vuln_id", ["PYSEC-2099-1", "cve-2099-0001"])
def test_an_exception_with_a_reason_explains_it_by_id_or_alias(tmp_path, vuln_id):
    exceptions = (
        f'[[exception]]\nid = "{vuln_id}"\npackage = "SomeLib"\n'
        'reason = "Only in the admin-only XML importer, which the portal does not ship."\n'
        "until = 2999-01-01\n"
    )
    result = _gate(tmp_path, VULNERABLE, exceptions)
    assert result.returncode == 0, result.stdout
    assert "explained (audit-exceptions.toml): somelib 1.0: PYSEC-2099-1" in result.stdout


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ('id = "PYSEC-2099-1"\npackage = "somelib"\nreason = "ok"\n', "no reason written down"),
        (
            'id = "PYSEC-2099-1"\npackage = "somelib"\n'
            'reason = "Accepted while the upstream fix is reviewed."\nuntil = 2000-01-01\n',
            "expired on 2000-01-01",
        ),
        (
            'id = "PYSEC-2099-1"\nreason = "Accepted while the upstream fix is reviewed."\n',
            "needs both 'id' and 'package'",
        ),
    ],
)
def test_an_exception_without_reason_or_past_its_date_fails(tmp_path, entry, complaint):
    result = _gate(tmp_path, VULNERABLE, f"[[exception]]\n{entry}")
    assert result.returncode == 1
    assert complaint in result.stdout


def test_an_exception_for_another_package_does_not_explain(tmp_path):
    exceptions = (
        '[[exception]]\nid = "PYSEC-2099-1"\npackage = "otherlib"\n'
        'reason = "Accepted while the upstream fix is reviewed."\n'
    )
    assert _gate(tmp_path, VULNERABLE, exceptions).returncode == 1


def test_an_unreachable_service_is_reported_and_fails_only_when_strict(tmp_path):
    relaxed = _gate(tmp_path, UNREACHABLE)
    assert relaxed.returncode == 0
    assert "UNVERIFIED: 1 package(s) could not be checked" in relaxed.stdout
    # Passing is not presented as a clean audit.
    assert "no known vulnerability left unexplained" not in relaxed.stdout
    assert "NOT A CLEAN AUDIT" in relaxed.stdout and "unverified" in relaxed.stdout
    assert _gate(tmp_path, UNREACHABLE, "", "--strict").returncode == 1


def test_an_unreadable_report_is_an_error_not_a_pass(tmp_path):
    (tmp_path / "report.json").write_text("not json")
    result = subprocess.run(
        [sys.executable, str(GATE), "--report", str(tmp_path / "report.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2


def test_the_committed_exceptions_file_is_valid(tmp_path):
    """Every entry in the repository's audit-exceptions.toml has a reason and a live date."""
    result = subprocess.run(
        [sys.executable, str(GATE), "--report", "/dev/stdin"],
        input=json.dumps({"dependencies": []}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
