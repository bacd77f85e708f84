"""The erasure ledger: what was erased, so that a restore of an older backup re-applies it.

Each erasure on request writes an entry (who, when, the keyed digests of the person's ID
number, the records acted on). ``erasure_ledger_reapply`` runs after every restore
(``scripts/restore.sh`` calls ``manage.py reapply_erasures``): records the backup brought back
are erased again — by primary key, and by digest for records the ledger did not know by key.
An entry is kept ``BACKUP_RETENTION_DAYS`` (the life of the oldest backup that could still hold
the person) and then deleted by the retention purge: it is personal data itself.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from compliance.models import Discrepancy, RegistrationVersion
from core.audit import AuditAction, audit_record
from outlets.models import OutletStaff
from subscribers.models import IdempotencyRecord, Registration

from .. import hooks
from ..models import ErasureLedger, RegistrationPrivacy
from .anonymise import registrations_anonymise
from .common import ensure_states
from .export_files import export_files_delete
from .holder_records import holder_records_erase


def ledger_token(digests: list[str]) -> str:
    """The person's ID number as one of their records holds it encrypted ('' if none does):
    the ledger keeps it so a digest-key rotation can re-digest the entry."""
    for model, encrypted, digest in (
        (Registration, "id_number_encrypted", "id_number_digest"),
        (RegistrationVersion, "id_number_encrypted", "id_number_digest"),
        (OutletStaff, "id_number_encrypted", "id_number_digest"),
        (Registration, "guardian_id_number_encrypted", "guardian_id_number_digest"),
    ):
        token = (
            model._base_manager.filter(**{f"{digest}__in": digests})
            .exclude(**{encrypted: ""})
            .values_list(encrypted, flat=True)
            .first()
        )
        if token:
            return token
    return ""


def ledger_record(*, request, actor, now, records: dict, token: str = "") -> ErasureLedger:
    return ErasureLedger.objects.create(
        created_at=now,
        erased_by=actor if isinstance(actor, str) else actor.get_username(),
        request=request,
        id_number_encrypted=token,
        digests=list(request.id_number_digests),
        records=records,
        expires_at=now + timedelta(days=settings.BACKUP_RETENTION_DAYS),
    )


def erasure_ledger_purge(*, now=None) -> int:
    """Delete the entries no backup could contradict any more."""
    deleted, _n = ErasureLedger.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


def erasure_ledger_reapply(*, actor="restore") -> dict:
    """Re-apply every live entry to the database as it now stands (after a restore). Safe to
    run any time: what is already erased is skipped. Returns counts."""
    from .subject_requests import guardian_erase, user_account_erase

    now = timezone.now()
    counts = {
        "entries": 0, "anonymised": 0, "deferred": 0, "versions": 0, "guardian": 0,
        "staff": 0, "users": 0, "files": 0, "holder_records": 0,
    }  # fmt: skip
    for entry in ErasureLedger.objects.filter(expires_at__gte=now).order_by("created_at", "pk"):
        with transaction.atomic():
            rec = entry.records or {}
            anonymised = registrations_anonymise(
                registration_ids=rec.get("anonymised", []),
                actor=actor,
                reason="erasure",
                now=now,
                keep_version_ids=_kept_versions(rec),
            ).anonymised
            counts["anonymised"] += len(anonymised)
            deferred = list(
                Registration.objects.filter(pk__in=rec.get("deferred", [])).values_list(
                    "pk", flat=True
                )
            )
            ensure_states(deferred)
            counts["deferred"] += RegistrationPrivacy.objects.filter(
                registration_id__in=deferred, anonymised_at__isnull=True
            ).update(
                erasure_requested_at=Coalesce(F("erasure_requested_at"), now),
                restricted_at=Coalesce(F("restricted_at"), now),
            )
            for version in RegistrationVersion.objects.filter(
                pk__in=rec.get("versions", [])
            ).exclude(id_number_digest=""):
                version.values = {
                    k: ("" if k in ("full_name", "birth_place", "address") else v)
                    for k, v in (version.values or {}).items()
                }
                version.id_number_encrypted = version.kk_number_encrypted = ""
                version.id_number_digest = version.kk_number_digest = ""
                version.save()
                counts["versions"] += 1
            # A head of family's part of minors' registrations, erased again where the backup
            # brought it back (the same rules: out of service, no open case).
            guarded = list(
                Registration.objects.filter(pk__in=rec.get("guardian", [])).exclude(
                    guardian_id_number_digest=""
                )
            )
            states = RegistrationPrivacy.objects.filter(registration_id__in=[r.pk for r in guarded])
            counts["guardian"] += len(
                guardian_erase(
                    registrations=guarded,
                    states={state.registration_id: state for state in states},
                    actor=actor,
                )[0]
            )
            for pk, sides in (rec.get("discrepancy_sides") or {}).items():
                discrepancy = Discrepancy.objects.filter(pk=pk).first()
                if discrepancy is not None:
                    discrepancy.details = {
                        side: ({"erased": True} if side in sides else values)
                        for side, values in (discrepancy.details or {}).items()
                    }
                    discrepancy.save(update_fields=["details"])
            # Staff records by key, and any the backup holds under the person's digests.
            staff = OutletStaff.objects.filter(
                pk__in=rec.get("staff", [])
            ) | OutletStaff.objects.filter(id_number_digest__in=entry.digests, is_active=False)
            counts["staff"] += staff.exclude(id_number_digest="").update(
                id_number_encrypted="", id_number_digest="", kk_number_encrypted="",
                kk_number_digest="",
            )  # fmt: skip
            from django.contrib.auth import get_user_model

            for user in (
                get_user_model()
                .objects.filter(pk__in=rec.get("users", []))
                .exclude(username__startswith="erased-")
            ):
                user_account_erase(user)
                counts["users"] += 1
            IdempotencyRecord.objects.filter(
                response_body__registration_number__in=rec.get("registration_numbers", [])
            ).delete()
            # The holder's door: by digest (sessions, disputes, numbers not kept) and by key.
            holder = holder_records_erase(
                digests=entry.digests,
                dispute_ids=rec.get("holder_disputes", []),
                keep_choice_ids=rec.get("holder_numbers_not_kept", []),
            )
            counts["holder_records"] += (
                holder["holder_sessions_deleted"]
                + len(holder["holder_disputes_erased"])
                + len(holder["holder_numbers_not_kept_erased"])
            )
            # Files the backup brought back: the person's exports, report files holding them.
            counts["files"] += export_files_delete(rec.get("export_files", []), now=now)
            counts["files"] += len(
                hooks.export_files_erase(rec.get("registrations", []), entry.created_at)
            )
            ErasureLedger.objects.filter(pk=entry.pk).update(reapplied_at=now)
            counts["entries"] += 1
    audit_record(
        actor=actor,
        action=AuditAction.PRIVACY_LEDGER_REAPPLIED,
        target_type="privacy.erasureledger",
        target_id="*",
        after=counts,
    )
    return counts


def _kept_versions(rec: dict) -> list[int]:
    """Versions of the erased registrations that were another person's stay as they are."""
    return list(rec.get("kept_versions", []))


LEDGER_FIELDS = (
    "id", "created_at", "erased_by", "request_id", "digests", "id_number_encrypted", "records",
    "expires_at",
)  # fmt: skip


def erasure_ledger_export() -> list[dict]:
    """Every live entry as plain data, to carry the ledger into a restored database (the
    restore script saves the live database's ledger before it restores an older backup)."""
    rows = ErasureLedger.objects.filter(expires_at__gte=timezone.now()).values(*LEDGER_FIELDS)
    return [
        {**row, "created_at": row["created_at"].isoformat(),
         "expires_at": row["expires_at"].isoformat()}
        for row in rows
    ]  # fmt: skip


def erasure_ledger_import(entries: list[dict]) -> int:
    """Add (or refresh) the entries a restored database lacks — same primary keys as in the
    database they were saved from, which the backup was a copy of. Returns how many."""
    from django.db import connection
    from django.utils.dateparse import parse_datetime

    from ..models import DataSubjectRequest

    with transaction.atomic():
        for entry in entries:
            request_id = entry.get("request_id")
            if request_id and not DataSubjectRequest.objects.filter(pk=request_id).exists():
                request_id = None  # the request was made after the backup
            ErasureLedger.objects.update_or_create(
                pk=entry["id"],
                defaults={
                    "created_at": parse_datetime(entry["created_at"]),
                    "expires_at": parse_datetime(entry["expires_at"]),
                    "erased_by": entry["erased_by"],
                    "request_id": request_id,
                    "digests": entry["digests"],
                    "id_number_encrypted": entry.get("id_number_encrypted", ""),
                    "records": entry["records"],
                },
            )
        if entries and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('privacy_erasureledger', 'id'), "
                    "(SELECT max(id) FROM privacy_erasureledger))"
                )
    return len(entries)
