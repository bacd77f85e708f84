"""What a digest-key rotation cannot re-digest row by row: the audit trail's copies of digests,
and the numbers only the external systems' files hold.

- The audit trail keeps ID numbers masked, never as digests — except the holder's door's
  throttle row, which keeps a 12-character digest prefix: the rotation moves it to the new
  key's prefix; every other audit value is shown to hold no digest at all.
- The operator's snapshot and the population registry's file hold numbers the portal has no
  ciphertext of: after the rotation they must be loaded again. ``rotate_digest_key`` says so,
  the state marks them stale, and reconciliation refuses to run against the stale snapshot
  (its findings would be false) until a full snapshot is loaded.
"""

import csv
import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command

from compliance.models import Discrepancy, ReconciliationRun
from compliance.reconciliation.engine import reconciliation_plan, reconciliation_start
from core import external_digests, pii
from core.models import AuditEvent, DigestKeyState
from holders.services import HolderThrottled, holder_session_start
from operatordb.models import OperatorSubscriber
from privacy import services
from privacy.digest_fields import AUDIT_DIGEST_PREFIXES, MAPPED_LISTS, all_digest_columns
from tests.holders.conftest import new_msisdn

from . import test_digest_rotation as rotation
from .conftest import deactivate, nik
from .test_digest_rotation import NEW_KEY, snapshot_rows, start_rotation

# The rotation rewrites digests with PostgreSQL's statements (refused on other databases).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_postgres")]
# Two people registered under the old key, a staff member, the operator's snapshot, a request.
seeded = rotation.seeded


def under(key: str, number: str) -> str:
    return pii._hmac(key, number)


def throttle(settings, number: str) -> AuditEvent:
    """Two attempts at the holder's door with one NIK where one is allowed: the second is
    refused and audited."""
    settings.HOLDER_MAX_PER_NIK = 1
    kk = "3374021304130618"
    holder_session_start(id_number=number, kk_number=kk, msisdn=new_msisdn(), client_ip="10.9.0.1")
    with pytest.raises(HolderThrottled):
        holder_session_start(
            id_number=number, kk_number=kk, msisdn=new_msisdn(), client_ip="10.9.0.2"
        )
    return AuditEvent.objects.filter(action="holder.throttled").latest("pk")


def stored_digests() -> set[str]:
    """Every digest value held in a digest column or list of the project."""
    found = set()
    for label, column in all_digest_columns():
        found |= set(apps.get_model(label)._base_manager.values_list(column, flat=True))
    for label, columns in MAPPED_LISTS.items():
        for column in columns:
            for values in apps.get_model(label)._base_manager.values_list(column, flat=True):
                found |= set(values or [])
    return {value for value in found if value}


def audit_values(event: AuditEvent) -> list[str]:
    """Every string inside the row's before and after, keys included, with its path."""
    out = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, inner in value.items():
                out.append((f"{path}.{key}", str(key)))
                walk(inner, f"{path}.{key}")
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(inner, f"{path}[{index}]")
        elif value is not None:
            out.append((path, str(value)))

    walk(event.before, "before")
    walk(event.after, "after")
    return out


def declared_prefix(event: AuditEvent, path: str) -> bool:
    return any(
        event.target_type == target_type and event.action == action and path == f"after.{key}"
        for target_type, action, key in AUDIT_DIGEST_PREFIXES
    )


def digests_in_audit(digests: set[str]) -> list[str]:
    """Audit values holding a digest or a prefix of one (12 characters and more), other than
    the declared prefixes."""
    prefixes = {digest[:12] for digest in digests}
    hits = []
    for event in AuditEvent.objects.order_by("pk"):
        for path, value in audit_values(event):
            if declared_prefix(event, path):
                continue
            if any(prefix in value for prefix in prefixes if len(value) >= 12):
                hits.append(f"{event.action} {path}={value[:40]}")
    return hits


# --- the audit trail -----------------------------------------------------------------------------


def test_the_throttle_rows_digest_prefix_moves_with_the_rotation(settings, seeded):
    old = settings.ID_DIGEST_KEY
    known = throttle(settings, nik(41))  # a number the portal holds encrypted
    unknown = throttle(settings, nik(93))  # one only this attempt ever named
    assert known.after["nik_digest"] == under(old, nik(41))[:12]

    start_rotation(settings)
    call_command("rotate_digest_key", stdout=StringIO())

    known.refresh_from_db()
    assert known.after["nik_digest"] == under(NEW_KEY, nik(41))[:12]
    assert known.after["client_digest"]  # the rest of the row as it was
    # Its number is found in the trail the way an investigation looks it up now.
    assert AuditEvent.objects.filter(
        action="holder.throttled", after__nik_digest=pii.digest(nik(41))[:12]
    ).exists()
    # A number no portal record holds: no pair to move it by; it keeps the old prefix (the
    # old key stays in the secret store while backups from before the rotation exist).
    unknown.refresh_from_db()
    assert unknown.after["nik_digest"] == under(old, nik(93))[:12]


def test_no_other_audit_row_holds_a_digest(settings, seeded, operator, clerk, register):
    """A life of records — registrations, a snapshot, subject requests looked up, exported,
    restricted and erased, a throttled attempt — and then the rotation: no audit value carries
    a digest (old or new) or a prefix of one, but the declared throttle prefix."""
    throttle(settings, nik(41))
    gone = register(57)
    deactivate(gone, days_ago=2)
    for number, act in (
        (nik(41), services.data_subject_request_export),
        (nik(42), services.data_subject_request_restrict),
        (nik(57), services.data_subject_request_erase),
    ):
        request = services.data_subject_request_open(
            actor=operator, id_number=number, channel="grapari"
        )
        act(actor=operator, request=request)
    before = stored_digests()
    assert not digests_in_audit(before)

    start_rotation(settings)
    call_command("rotate_digest_key", stdout=StringIO())

    assert not digests_in_audit(before | stored_digests())


# --- the external systems' copies -----------------------------------------------------------------


def write_snapshot(path, registrations) -> str:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["msisdn", "iccid", "status", "activated_at", "outlet_roid", "id_type",
                         "id_number", "full_name", "birth_date"])  # fmt: skip
        for _line, values in snapshot_rows(registrations):
            writer.writerow(values[:9])
    return str(path)


def jobs_page(client, operator) -> str:
    client.force_login(operator)
    return client.get("/privacy/jobs/", HTTP_ACCEPT_LANGUAGE="id").content.decode()


def test_after_the_rotation_reconciliation_waits_for_a_fresh_snapshot(
    settings, seeded, register, tmp_path, client, operator
):
    old = settings.ID_DIGEST_KEY
    start_rotation(settings)
    out = StringIO()
    call_command("rotate_digest_key", stdout=out)

    # The command says what to load again; the state remembers it.
    text = out.getvalue()
    assert "RELOAD NEEDED" in text
    assert "load_operator_snapshot" in text and "load_population_registry" in text
    assert set(external_digests.stale()) == {"operator_snapshot", "population_registry"}
    page = jobs_page(client, operator)
    assert 'id="reload-needed"' in page and "Muat lagi berkas dari sistem luar" in page
    assert "load_operator_snapshot" in page and "load_population_registry" in page

    # A number sold after the rotation, known to the operator's last snapshot (taken before
    # it) under the old key: a reconciliation now would call it an ID mismatch.
    late = register(64)
    OperatorSubscriber.objects.create(
        msisdn=late.msisdn, iccid=late.iccid, status="active", activated_at=late.registered_at,
        outlet_roid=late.outlet.roid, id_type="ktp", id_number_digest=under(old, nik(64)),
        full_name=late.full_name, birth_date=late.birth_date,
    )  # fmt: skip
    findings = Discrepancy.objects.count()
    with pytest.raises(CommandError, match="load_operator_snapshot"):
        call_command("reconcile", "--full", "--sync", stdout=StringIO())
    run = ReconciliationRun.objects.latest("pk")
    assert run.status == ReconciliationRun.Status.FAILED
    # Stored with the run in the portal's language, for every reader of the run's page.
    assert run.error.startswith("Snapshot operator dimuat sebelum kunci digest dirotasi")
    assert Discrepancy.objects.count() == findings  # nothing reported
    # Planned by a worker (the task's way): refused the same, nothing planned.
    queued = reconciliation_start(mode="full", trigger="api", dispatch=False)
    assert reconciliation_plan(run_id=queued.pk) is False
    queued.refresh_from_db()
    assert (queued.status, queued.error) == ("failed", run.error)
    assert not queued.chunks.exists()

    # A delta feed does not rewrite every number: still refused.
    snapshot = write_snapshot(tmp_path / "today.csv", [*seeded["first"], seeded["second"], late])
    call_command("load_operator_snapshot", snapshot, "--delta", stdout=StringIO())
    assert "operator_snapshot" in external_digests.stale()

    # The full snapshot: every number under the new key; reconciliation runs, finds no mismatch.
    call_command("load_operator_snapshot", snapshot, stdout=StringIO(), stderr=StringIO())
    assert "operator_snapshot" not in external_digests.stale()
    page = jobs_page(client, operator)
    assert "load_operator_snapshot" not in page and "load_population_registry" in page
    assert OperatorSubscriber.objects.get(msisdn=late.msisdn).id_number_digest == under(
        NEW_KEY, nik(64)
    )
    out = StringIO()
    call_command("reconcile", "--full", "--sync", "--json", stdout=out)
    assert json.loads(out.getvalue())["status"] == "succeeded"
    assert not Discrepancy.objects.filter(msisdn=late.msisdn, kind="id_number_mismatch").exists()


def test_a_snapshot_loaded_during_the_rotation_does_not_count_as_fresh(settings, seeded, tmp_path):
    snapshot = write_snapshot(tmp_path / "snap.csv", [*seeded["first"], seeded["second"]])
    start_rotation(settings)
    call_command("load_operator_snapshot", snapshot, stdout=StringIO(), stderr=StringIO())
    call_command("rotate_digest_key", stdout=StringIO())
    assert "operator_snapshot" in external_digests.stale()
    # A rerun of the command (nothing left to rotate) says it again.
    out = StringIO()
    call_command("rotate_digest_key", stdout=out)
    assert "RELOAD NEEDED" in out.getvalue()


def test_without_a_rotation_nothing_is_stale(seeded):
    assert external_digests.stale() == {}
    assert external_digests.reconciliation_refusal() == ""
    # Asked of every row: a transactional test's flush removes the one the migration seeds.
    assert not DigestKeyState.objects.filter(operator_snapshot_stale_since__isnull=False).exists()


def test_the_demo_organisations_trail_holds_no_digest(settings, policies):
    """The whole demo organisation — its registrations, imports, a reconciliation with its
    findings, clarifications and reviews: no audit value carries a digest or a prefix of one
    but the declared ones."""
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    call_command("reconcile", "--full", "--sync", stdout=StringIO())
    assert AuditEvent.objects.count() >= 40
    assert not digests_in_audit(stored_digests())
