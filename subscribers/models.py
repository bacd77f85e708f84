"""Registrations of prepaid subscribers, and the registration policy they are judged by."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import vocabulary
from core.storage import get_private_storage
from subscribers.ladder import default_ladder, ladder_problems
from subscribers.rulebook import compiled as compiled_rules


def _photo_path(instance, filename: str) -> str:
    # Random names: a path must not reveal whose photo it is. One folder a day, so that the
    # sweep of orphaned files (subscribers.services.photo_files_orphaned_purge) reads only the
    # last few days' folders, never every photo ever taken.
    return f"photos/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}.jpg"


def validate_sanction_ladder(value) -> None:
    """A policy's sanction ladder must be usable (``subscribers.ladder.ladder_problems``)."""
    problems = ladder_problems(value)
    if problems:
        raise ValidationError(problems)


class IdType(models.TextChoices):
    KTP = "ktp", _("KTP (identity card)")
    SIM = "sim", _("SIM (driving licence)")
    PASSPORT = "passport", _("Passport")
    STUDENT_CARD = "student_card", _("Student card")
    KITAS = "kitas", _("KITAS")
    KITAP = "kitap", _("KITAP")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class CitizenProof(models.TextChoices):
    """What identifies an Indonesian citizen under a rule set: one field, so "KK or face" cannot
    be written as two booleans that disagree (docs/rules.md)."""

    DOCUMENT = "document", _("The ID document only")
    NIK_KK = "nik_kk", _("NIK + family card (KK)")
    NIK_KK_OR_FACE = "nik_kk_or_face", _("NIK + KK, or NIK + face verified by the registry")
    NIK_FACE = "nik_face", _("NIK + face verified by the registry")


class CapExceptions(models.TextChoices):
    """Where the numbers beyond the cap on one NIK may be registered."""

    NOBODY = "nobody", _("Nowhere")
    OPERATOR_OUTLETS = "operator", _("Only at the operator's own outlets")
    AUTHORISED_OUTLETS = (
        "authorised",
        _("At the operator's own outlets and outlets the operator authorised in writing"),
    )


class Category(models.TextChoices):
    """Whose number: a person's (counts against their cap), or a company's, registered under
    the NIK of its person in charge (corporate, M2M: outside the personal cap)."""

    PERSONAL = "personal", _("Personal")
    CORPORATE = "corporate", _("Corporate (company + person in charge)")
    M2M = "m2m", _("Machine-to-machine (M2M)")


class PolicyStatus(models.TextChoices):
    """A rule set is a draft (previewed against history, never used to judge) until the
    operator publishes it with the date it comes into force."""

    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")


class PublishedPolicyManager(models.Manager):
    """``RegistrationPolicy.objects``: the published rule sets only. Every lookup of a rule set
    to judge a registration goes through it, so a draft never judges one whatever its date."""

    def get_queryset(self):
        return super().get_queryset().filter(status=PolicyStatus.PUBLISHED)


class FaceVerdictLabel(models.TextChoices):
    """The population registry's face verdicts (``core.registry.FaceVerdict``) in words, for
    ``Registration.face_verdict`` (kept as the registry's code)."""

    MATCH = "match", _("the same person")
    NO_MATCH = "no_match", _("not the same person")
    NO_REFERENCE = "no_reference", _("no face on record at Dukcapil, not compared")
    UNREADABLE = "unreadable", _("photo unreadable")


class RegistrationNote(models.TextChoices):
    """Why a registration was flagged for review (``review_reasons``) or what the clerk was told
    (``warnings``): each stored as ``{"code", "message"}``; pages show the code's label in the
    reader's language, and the stored message only where it carries facts of its own
    (``NOTE_DETAILS``)."""

    DOUBTFUL_DOCUMENT = "doubtful_document", _("The ID document looks doubtful")
    INSIDER_KK = "insider_kk", _("The buyer's family card (KK) is one of the dealer's people's")
    PHOTO_UNREADABLE = "photo_unreadable", _("A photo could not be read")
    REGISTRY_REFUSED = "registry_refused", _("Refused by the population registry")
    DECLARED_PURPOSE_MISSING = (
        "declared_purpose_missing",
        _("The NIK holds more numbers than allowed without a declared purpose"),
    )
    DOCUMENT_NOT_CHECKED = "document_not_checked", _("The original documents were not checked")
    AWAITING_VERIFICATION = (
        "awaiting_verification",
        _("Awaiting verification by the population registry"),
    )
    OVER_CAP_PERMITTED = (
        "over_cap_permitted",
        _("Beyond the cap of numbers per NIK: allowed at this outlet, flagged for review"),
    )
    KK_NOT_PAIRED = "kk_not_paired", _("The registry does not pair this KK with the NIK")
    NIK_BIRTH_DATE_CORRECTED = (
        "nik_birth_date_corrected",
        _("The registry confirms a date of birth the NIK's digits do not show"),
    )
    NIK_SEX_CORRECTED = (
        "nik_sex_corrected",
        _("The registry confirms a sex the NIK's digits do not show"),
    )
    FACE_NO_REFERENCE = (
        "face_no_reference",
        _("The registry holds no face record of this NIK: the face was not compared"),
    )
    IDENTITY_REPLACED = (
        "identity_replaced",
        _("A correction replaced the NIK: the new holder's face was never verified"),
    )


# Notes whose stored message adds facts to the label (the document's doubts, the registry's
# words, the numbers held): shown after it.
NOTE_DETAILS = frozenset(
    {"doubtful_document", "registry_refused", "over_cap_permitted", "nik_birth_date_corrected"}
)


def note_text(note) -> str:
    """One review reason or warning as a reader's sentence, in the active language."""
    if not isinstance(note, dict):
        return str(note)
    code, message = note.get("code", ""), note.get("message", "")
    if code not in RegistrationNote.values:
        return message or code
    label = str(RegistrationNote(code).label)
    if code == RegistrationNote.OVER_CAP_PERMITTED and "held" in note and "cap" in note:
        facts = _("%(held)d numbers on this NIK, cap %(cap)d") % {
            "held": note["held"],
            "cap": note["cap"],
        }
        return f"{label} ({facts})"
    if code in NOTE_DETAILS and message:
        return f"{label} ({message})"
    return label


PUBLISHED_IS_FINAL = _(
    "A published rule set cannot be changed or deleted: copy it as a draft, edit the draft and "
    "publish it."
)


class RegistrationPolicy(models.Model):
    """A rule set in force from ``effective_from`` until the next one starts.

    Rules are data, not code: a new regulation is a new row, and a registration is judged by the
    row in force at its time (imports by their ``registered_at``). A draft (``status``) is a rule
    set being prepared: ``objects`` leaves it out, so it judges nothing until it is published
    (``subscribers.drafts``); ``all_objects`` sees drafts too (the admin, the preview).
    """

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=200)
    legal_basis = models.CharField(_("legal basis"), max_length=300, blank=True)
    # Unique among published rule sets (Meta); a draft may carry the date it is meant for, or
    # none yet.
    effective_from = models.DateField(_("in force from"), null=True, blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=PolicyStatus.choices,
        default=PolicyStatus.PUBLISHED,
        db_default=PolicyStatus.PUBLISHED,
    )
    based_on = models.ForeignKey(
        "self",
        verbose_name=_("copied from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Every accepted type; kept equal to the union of the two lists below when they are set
    # (save()). A rule set with neither list accepts these for every nationality.
    accepted_id_types = models.JSONField(_("accepted ID types"), default=list)
    citizen_id_types = models.JSONField(
        _("ID types accepted from Indonesian citizens"), default=list, blank=True
    )
    foreigner_id_types = models.JSONField(
        _("ID types accepted from foreign citizens"), default=list, blank=True
    )
    citizen_proof = models.CharField(
        _("what identifies a citizen"),
        max_length=16,
        choices=CitizenProof.choices,
        default=CitizenProof.DOCUMENT,
    )
    registry_check = models.BooleanField(
        _("NIK, KK, name, birth date and sex validated against the population registry"),
        default=False,
    )
    max_numbers_per_id = models.PositiveIntegerField(
        _("cap of active numbers per ID"), null=True, blank=True
    )
    cap_exceptions = models.CharField(
        _("where numbers beyond the cap may be registered"),
        max_length=12,
        choices=CapExceptions.choices,
        default=CapExceptions.NOBODY,
    )
    declared_purpose_above = models.PositiveIntegerField(
        _("numbers on one NIK above which a declared purpose is required"),
        null=True,
        blank=True,
    )
    staff_own_id_forbidden = models.BooleanField(
        _("end user only: no NIK of the dealer's staff (present or past), admins or outlet owners"),
        default=False,
    )
    id_photo_required = models.BooleanField(_("ID photo required"), default=False)
    # Every buyer's face photographed, whatever the rule for citizens (an operator's option; no
    # seeded rule set asks for it: the face the 2026 rules need is citizen_proof's).
    face_photo_required = models.BooleanField(_("face photo of every buyer"), default=False)
    packs_sold_inactive = models.BooleanField(_("starter packs sold inactive"), default=False)
    original_documents_required = models.BooleanField(
        _("original e-KTP and KK shown at the outlet"), default=False
    )
    signed_statement_required = models.BooleanField(_("the buyer signs a statement"), default=False)
    mass_registration_forbidden = models.BooleanField(
        _("no mass-registration tools (bulk registration only by the operator, for M2M)"),
        default=False,
    )
    minor_age_limit = models.PositiveSmallIntegerField(
        _("buyers younger than this register through the head of family"),
        null=True,
        blank=True,
    )
    # An option the operator can switch on: no seeded rule set requires it (docs/decisions.md).
    training_required = models.BooleanField(
        _("clerks must have attended registration training"), default=False
    )
    # Days a deactivated number rests before the operator may issue it again (a new life of
    # the number, docs/number-lives.md); None where the rule set names no quarantine.
    number_quarantine_days = models.PositiveSmallIntegerField(
        _("days a deactivated number rests before it is issued again"), null=True, blank=True
    )
    # The holder's door: over the cap, the holder of the NIK chooses which numbers to keep; the
    # others are flagged for deactivation (docs/holders.md).
    holder_chooses_over_cap = models.BooleanField(
        _("over the cap, the holder chooses which numbers to keep"), default=False
    )
    notes = models.TextField(_("notes"), blank=True)
    # The compliance workflow: how long an outlet has to answer a clarification
    # request, and the sanction ladder applied to confirmed violations (subscribers.ladder).
    clarification_deadline_days = models.PositiveSmallIntegerField(
        _("days an outlet has to answer a clarification request"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(90)],
    )
    sanction_ladder = models.JSONField(
        _("sanction ladder"),
        default=default_ladder,
        validators=[validate_sanction_ladder],
        help_text=_(
            'Rungs in order, e.g. [{"violations": 1, "action": "warning"}, {"violations": 3, '
            '"action": "suspension"}, {"violations": 5, "action": "revocation"}]: the action '
            "is taken when an outlet's confirmed violations within the window reach the number."
        ),
    )
    violation_window_days = models.PositiveSmallIntegerField(
        _("days a confirmed violation counts towards the ladder"),
        default=180,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )

    all_objects = models.Manager()
    objects = PublishedPolicyManager()

    class Meta:
        verbose_name = _("registration policy")
        verbose_name_plural = _("registration policies")
        ordering = ["-effective_from"]
        # The admin, unique checks and relations see drafts too; ``objects`` does not.
        default_manager_name = "all_objects"
        base_manager_name = "all_objects"
        constraints = [
            models.UniqueConstraint(
                fields=["effective_from"],
                condition=models.Q(status="published"),
                name="policy_published_date_unique",
            ),
            models.CheckConstraint(
                name="policy_published_has_date",
                condition=models.Q(status="draft") | models.Q(effective_from__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def save(self, *args, **kwargs):
        if self.citizen_id_types or self.foreigner_id_types:
            union = {*self.citizen_id_types, *self.foreigner_id_types}
            self.accepted_id_types = [t for t in IdType.values if t in union]
        # A published rule set is the law registrations were and will be judged by: it is never
        # edited (copy it as a draft, edit the draft, publish it). Only a draft is changed; its
        # publication (subscribers.drafts) is the save that turns it published. Saving a
        # published row unchanged (an idempotent re-seed) is no edit.
        if self.pk is not None and not self._state.adding:
            fields = [f.attname for f in self._meta.concrete_fields]
            stored = RegistrationPolicy.all_objects.filter(pk=self.pk).values(*fields).first()
            if (
                stored
                and stored["status"] == PolicyStatus.PUBLISHED
                and any(stored[name] != getattr(self, name) for name in fields)
            ):
                raise ValidationError(PUBLISHED_IS_FINAL, code="published")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status == PolicyStatus.PUBLISHED:
            raise ValidationError(PUBLISHED_IS_FINAL, code="published")
        return super().delete(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == PolicyStatus.DRAFT

    def id_types_for(self, nationality: str = "ID") -> list[str]:
        """The ID types accepted from a buyer of this nationality (ISO code; "ID" citizen)."""
        if not self.citizen_id_types and not self.foreigner_id_types:
            return list(self.accepted_id_types)
        return list(self.citizen_id_types if nationality == "ID" else self.foreigner_id_types)

    def accepts(self, id_type: str, nationality: str | None = None) -> bool:
        """Whether ``id_type`` is accepted (from a buyer of ``nationality`` when given)."""
        if nationality is None:
            return id_type in self.accepted_id_types
        return compiled_rules(self).id_type_accepted.holds(
            {"id_type": id_type, "citizen": nationality == "ID"}
        )

    @property
    def nik_required(self) -> bool:
        """A citizen registers with their NIK (the NIK era, since 31 Oct 2017)."""
        return self.citizen_proof != CitizenProof.DOCUMENT

    @property
    def kk_required(self) -> bool:
        """A citizen's family card number is required (NIK + KK)."""
        return self.citizen_proof == CitizenProof.NIK_KK

    @property
    def face_accepted(self) -> bool:
        """A citizen may be identified by a face the registry verifies."""
        return self.citizen_proof in (CitizenProof.NIK_KK_OR_FACE, CitizenProof.NIK_FACE)


class RegistrationQuerySet(models.QuerySet):
    def current_lives(self):
        """Registrations of a number's current life: those whose issue of the number has not
        ended (deactivated at the operator, or reissued to someone else; ``life_ended_at``,
        set by reconciliation). What a holder holds now; the per-NIK cap counts these."""
        return self.filter(life_ended_at__isnull=True)

    def ended_lives(self):
        return self.filter(life_ended_at__isnull=False)


class Registration(models.Model):
    class Status(models.TextChoices):
        REGISTERED = "registered", _("Registered")
        FLAGGED = "flagged", _("Flagged for review")
        VERIFIED = "verified", _("Verified")
        BLOCKED = "blocked", _("Blocked")
        # The population registry could not be asked at the counter: kept, the pack not
        # activated, until the registry answers (subscribers.services.registration_verify).
        AWAITING = "awaiting", _("Awaiting verification by the population registry")
        # The registry's late answer refused it: the pack stays inactive (refusal_reason).
        REFUSED = "refused", _("Refused by the population registry")

    class Source(models.TextChoices):
        WEB = "web", _("Web form")
        API = "api", _("API")
        IMPORT = "import", _("Import")

    class PhotoStatus(models.TextChoices):
        NONE = "none", _("No photos")
        PENDING = "pending", _("Being processed")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    # Unique through a named constraint (below) rather than unique=True: on PostgreSQL that
    # spares a second, LIKE-only index that every registration would have to maintain.
    registration_number = models.CharField(_("registration number"), max_length=20)
    # No index of its own: reg_outlet_time_idx (outlet, -registered_at) serves outlet look-ups.
    outlet = models.ForeignKey(
        "outlets.Outlet", on_delete=models.PROTECT, related_name="registrations", db_index=False
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="registrations_made",
    )
    # One registration per pack: the database settles two clerks racing for the same pack.
    # Empty only for a registration the population registry refused: it holds no number, and
    # its pack went back to the outlet's stock (the MSISDN and ICCID stay on the record).
    starter_pack = models.OneToOneField(
        "outlets.StarterPack",
        on_delete=models.PROTECT,
        related_name="registration",
        null=True,
        blank=True,
    )
    msisdn = models.CharField(_("MSISDN"), max_length=15)
    iccid = models.CharField(_("ICCID"), max_length=22, blank=True)
    # Nobody searches registrations by policy; an index would only slow every insert.
    policy = models.ForeignKey(
        RegistrationPolicy, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    id_type = models.CharField(_("ID type"), max_length=12, choices=IdType.choices)
    id_number_encrypted = models.TextField()
    id_number_digest = models.CharField(max_length=64)
    id_number_masked = models.CharField(_("ID number"), max_length=40)
    kk_number_encrypted = models.TextField(blank=True)
    kk_number_digest = models.CharField(max_length=64, blank=True)
    kk_number_masked = models.CharField(_("KK number"), max_length=40, blank=True)

    full_name = models.CharField(_("full name"), max_length=100)
    birth_place = models.CharField(_("place of birth"), max_length=100)
    birth_date = models.DateField(_("date of birth"))
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    address = models.CharField(_("address"), max_length=300)
    nationality = models.CharField(_("nationality"), max_length=2, default="ID")
    # Personal numbers count against the holder's cap; a company's (corporate, M2M) are
    # registered under its person in charge's NIK and do not.
    category = models.CharField(
        _("category"),
        max_length=10,
        choices=Category.choices,
        default=Category.PERSONAL,
        db_default=Category.PERSONAL,
    )
    company_name = models.CharField(
        _("company"), max_length=150, blank=True, default="", db_default=""
    )
    # A buyer under the rule set's minor age registers through the head of family (2026): the
    # head of family's NIK, whose face the registry verifies.
    guardian_id_number_encrypted = models.TextField(blank=True, default="", db_default="")
    guardian_id_number_digest = models.CharField(
        max_length=64, blank=True, default="", db_default=""
    )
    guardian_id_number_masked = models.CharField(
        _("head of family's NIK"), max_length=40, blank=True, default="", db_default=""
    )
    declared_purpose = models.CharField(
        _("declared purpose (many numbers on one NIK)"),
        max_length=300,
        blank=True,
        default="",
        db_default="",
    )

    id_photo = models.FileField(storage=get_private_storage, upload_to=_photo_path, blank=True)
    id_photo_thumb = models.FileField(
        storage=get_private_storage, upload_to=_photo_path, blank=True
    )
    face_photo = models.FileField(storage=get_private_storage, upload_to=_photo_path, blank=True)
    face_photo_thumb = models.FileField(
        storage=get_private_storage, upload_to=_photo_path, blank=True
    )
    photo_status = models.CharField(
        max_length=10, choices=PhotoStatus.choices, default=PhotoStatus.NONE
    )

    consent_at = models.DateTimeField(_("consent given at"))
    # None: not known (an import without the column) — never taken for a yes.
    document_checked = models.BooleanField(
        _("clerk checked the original document in person"), null=True, default=False
    )
    statement_signed = models.BooleanField(
        _("the buyer signed the statement"), null=True, blank=True, default=None
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.REGISTERED
    )
    # "Awaiting the population registry", kept by the database from ``status``: the late
    # verification's index is conditioned on it, not on ``status``, so that no index reads
    # ``status`` and a change between the other statuses (registered → flagged: a first
    # reconciliation run flags tens of thousands) is a heap-only update — no new entry in the
    # table's indexes — where its page has room (the table's fillfactor, migration 0014).
    awaiting_registry = models.GeneratedField(
        expression=models.Q(status="awaiting"),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    # Why a registration needs a human look even though it passed validation (doubtful
    # document, over the cap...): a list of {"code", "message"}.
    review_reasons = models.JSONField(default=list, blank=True)
    # What the clerk was told but which needs nobody's review (a birth date the registry
    # confirmed against the NIK's digits, a KK the registry no longer pairs in an import...):
    # a list of {"code", "message"}.
    warnings = models.JSONField(default=list, blank=True, db_default=[])
    # The population registry's check: when it answered, and for a face its verdict, score and
    # the SHA-256 of the photo sent — the evidence kept; the photo itself 72 h (docs/rules.md).
    registry_checked_at = models.DateTimeField(_("checked by the registry at"), null=True)
    face_verdict = models.CharField(
        _("face verification"), max_length=16, blank=True, default="", db_default=""
    )
    face_score = models.FloatField(_("face similarity"), null=True, blank=True)
    face_sha256 = models.CharField(max_length=64, blank=True, default="", db_default="")
    refusal_reason = models.CharField(
        _("why the registry refused it"), max_length=500, blank=True, default="", db_default=""
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    registered_at = models.DateTimeField(_("registered at"), db_index=True)
    # When this registration's life of the number ended: the operator deactivated the number
    # (or issued it again after the quarantine). Set by reconciliation; None while it lives.
    # An ended life holds no number against the cap and asks nothing of its outlet any more.
    life_ended_at = models.DateTimeField(_("number's life ended at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["-registered_at", "-id"]
        permissions = [("reveal_id_number", _("Can reveal full ID numbers (audited)"))]
        constraints = [
            models.UniqueConstraint(
                fields=["registration_number"], name="registration_number_unique"
            ),
            models.CheckConstraint(
                name="registration_status_known",
                condition=models.Q(
                    status__in=[
                        "registered",
                        "flagged",
                        "verified",
                        "blocked",
                        "awaiting",
                        "refused",
                    ]
                ),
            ),
            models.CheckConstraint(
                name="registration_category_known",
                condition=models.Q(category__in=["personal", "corporate", "m2m"]),
            ),
            models.CheckConstraint(
                name="registration_sex_known", condition=models.Q(sex__in=["M", "F"])
            ),
            models.CheckConstraint(
                name="registration_has_consent", condition=models.Q(consent_at__isnull=False)
            ),
        ]
        indexes = [
            # The outlet's list, newest first, and the per-outlet counts of reports.
            models.Index(fields=["outlet", "-registered_at"], name="reg_outlet_time_idx"),
            # "Numbers held by one ID" (cap checks, data-subject requests) via the digest.
            models.Index(fields=["id_number_digest"], name="reg_id_digest_idx"),
            # A data-subject request of a head of family: the minors' registrations made through
            # them. Partial: only minors' registrations carry a guardian.
            models.Index(
                fields=["guardian_id_number_digest"],
                name="reg_guardian_digest_idx",
                condition=~models.Q(guardian_id_number_digest=""),
            ),
            # Reconciliation joins on MSISDN.
            models.Index(fields=["msisdn"], name="reg_msisdn_idx"),
            # Incremental reconciliation: "registrations changed since the last run".
            models.Index(fields=["updated_at"], name="reg_updated_at_idx"),
            # Incremental reconciliation: registrations whose activation grace period ends
            # between two runs (counted from the registry's verification, else the sale).
            models.Index(
                Coalesce("registry_checked_at", "registered_at"), name="reg_grace_start_idx"
            ),
            # The late verification's sweep: the few registrations awaiting the registry.
            models.Index(
                fields=["created_at"],
                name="reg_awaiting_idx",
                condition=models.Q(awaiting_registry=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registration_number} {self.msisdn}"

    @property
    def review_reason_texts(self) -> list[str]:
        """Why it was flagged, in the reader's language (``note_text``)."""
        return [note_text(note) for note in self.review_reasons or []]

    @property
    def warning_texts(self) -> list[str]:
        return [note_text(note) for note in self.warnings or []]


class IdempotencyRecord(models.Model):
    """The first answer to a request carrying an ``Idempotency-Key``, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class RulePreview(models.Model):
    """What a draft rule set would have done to the registrations of a past period, next to
    what the rule sets in force did (``subscribers.preview``). The preview's only write: its
    own row, with the figures and the ids of a few sample registrations per change."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    draft = models.ForeignKey(RegistrationPolicy, on_delete=models.CASCADE, related_name="previews")
    period_from = models.DateField(_("registrations from"))
    period_to = models.DateField(_("registrations until"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    chunks_total = models.PositiveIntegerField(default=1)
    chunks_done = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(_("registrations judged"), default=0)
    # Per chunk, merged when done: {"totals": ..., "groups": ..., "samples": ...}.
    result = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("rule-set preview")
        verbose_name_plural = _("rule-set previews")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="rule_preview_period_ordered",
                condition=models.Q(period_from__lte=models.F("period_to")),
            )
        ]

    def __str__(self) -> str:
        return f"{self.draft_id}: {self.period_from}–{self.period_to}"


# The vocabularies of this module, with their labels for pages and exports (core.vocabulary).
vocabulary.register("id_type", IdType)
vocabulary.register("sex", Sex)
vocabulary.register("citizen_proof", CitizenProof)
vocabulary.register("cap_exceptions", CapExceptions)
vocabulary.register("category", Category)
vocabulary.register("registration_note", RegistrationNote)
vocabulary.register("face_verdict", FaceVerdictLabel)
vocabulary.register("registration_status", Registration.Status)
vocabulary.register("registration_source", Registration.Source)
vocabulary.register("photo_status", Registration.PhotoStatus)
vocabulary.register("policy_status", PolicyStatus)
vocabulary.register("rule_preview_status", RulePreview.Status)
