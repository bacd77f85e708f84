"""The audit trail: one row per change or disclosure of a record, written by the service that
acts, in its own transaction (``core.audit.audit_record``)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    # No index of its own: audit_actor_idx (actor, created_at) serves lookups by actor.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Kept even if the user row is later removed, so the trail still names who acted.
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=80)
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=64)
    target_repr = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The table kept the name it was created under when the audit trail moved here.
        db_table = "compliance_auditevent"
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [
            # "Everything that happened to this record" on the detail and data-subject pages.
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            # "What did this user do" for an investigation.
            models.Index(fields=["actor", "created_at"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_repr}"
        )


class DigestKeyState(models.Model):
    """Which ``ID_DIGEST_KEY`` the stored ID-number digests were made with (one row).

    ``fingerprint`` is ``core.pii.key_fingerprint`` of the key in force; during a digest-key
    rotation ``previous_fingerprint`` names the key rows not yet re-digested are under. Start-up
    and every data command compare the configured keys with it (``core.pii.digest_key_check``).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    fingerprint = models.CharField(max_length=64)
    previous_fingerprint = models.CharField(max_length=64, blank=True)
    rotation_started_at = models.DateTimeField(null=True, blank=True)
    # Since when the copies of the external systems' data (the operator's snapshot, the
    # population registry's file) hold numbers under a key the rotation retired: a number only
    # they hold has no ciphertext to re-digest it from, so only loading the file again moves it.
    # Set when a rotation ends, cleared by a full load after it (``core.external_digests``).
    operator_snapshot_stale_since = models.DateTimeField(null=True, blank=True)
    population_registry_stale_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("digest key state")
        verbose_name_plural = _("digest key state")
        constraints = [
            models.CheckConstraint(name="digest_key_state_single", condition=models.Q(id=1))
        ]

    def __str__(self) -> str:
        return self.fingerprint


class DigestKeyMap(models.Model):
    """During a digest-key rotation: each old digest and the new one of the same number, learnt
    from the decrypted numbers (``privacy.services.digest_rotation``). A number the map knows
    has been moved everywhere, so ``core.pii.digest`` gives its new digest, and columns without
    a ciphertext beside them are re-digested through it. Emptied when the rotation ends: it
    links the two keys' digests, nothing else."""

    old = models.CharField(max_length=64, primary_key=True)
    new = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.old[:8]
