"""Which records hold one *person's* data — not which rows carry their ID number.

A registration is not one person: a correction accepted in the compliance workflow replaces its
identity (the clerk typed the wrong NIK, the buyer's name was misspelt), and the values it
replaced are kept as an earlier version. So a registration is a sequence of *holdings*: each
earlier version, then its current values, each naming the person it was registered to at the
time. A data-subject request acts on the holdings that are the requester's, and only on those:

- a holding is a candidate when its keyed ID digest is one of the request's digests;
- when the request names the person (name and birth date), a candidate whose name or birth date
  differs is *ambiguous*; when it does not, candidates that disagree among themselves on name or
  birth date are all ambiguous (one NIK, two people: the operator admin decides);
- an operator admin's decision (``include`` / ``exclude`` per holding key) settles an ambiguous
  holding; no action runs while any holding is still ambiguous.

The other records follow the holdings: a discrepancy's side-by-side values are the person's only
where their name, birth date and masked ID are the person's (the other side is usually another
person: the operator's subscriber); a correction proposed in a clarification answer is the
person's when its ID number is; audit events about a registration belong to the holdings in
force when they were written.

A person is also on registrations they did not make for themselves: a minor registers through
the head of family (2026 rules), whose NIK the registration keeps as the guardian's and whose
face the population registry verified (``guardian_registrations``). Those registrations are the
minor's; what in them is the guardian's is their own NIK and their face photo with its check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Q

from compliance.models import ClarificationAnswer, Discrepancy, RegistrationVersion
from core import pii
from identity.idrules import normalize_name_for_comparison
from subscribers.models import Registration

CURRENT = "registration"
VERSION = "version"
IDENTITY_FIELDS = ("full_name", "birth_date", "id_number")


def _iso(value) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value or "")[:10]


@dataclass(frozen=True)
class PersonClaim:
    """The person a request names: every digest of their ID number, and where given their name
    and birth date."""

    digests: tuple[str, ...]
    name_key: str = ""
    birth_date: str = ""

    @classmethod
    def from_request(cls, request) -> PersonClaim:
        person = request.person or {}
        return cls(
            tuple(d for d in request.id_number_digests if d),
            person.get("name_key", ""),
            person.get("birth_date", ""),
        )


@dataclass
class Holding:
    """One identity a registration holds (``version is None``) or held (an earlier version)."""

    registration: Registration
    version: RegistrationVersion | None
    digest: str
    full_name: str
    birth_date: str
    id_number_masked: str
    since: datetime
    until: datetime | None
    status: str = "other"  # "mine", "ambiguous" or "other"

    @property
    def key(self) -> str:
        if self.version is None:
            return f"{CURRENT}:{self.registration.pk}"
        return f"{VERSION}:{self.version.pk}"

    @property
    def is_current(self) -> bool:
        return self.version is None

    @property
    def name_key(self) -> str:
        return normalize_name_for_comparison(self.full_name or "")

    def in_force(self, at: datetime | None) -> bool:
        return at is not None and self.since <= at and (self.until is None or at <= self.until)

    def describe(self) -> dict:
        """What an operator admin needs to decide (masked: never the full number)."""
        return {
            "key": self.key,
            "registration_number": self.registration.registration_number,
            "full_name": self.full_name,
            "birth_date": self.birth_date,
            "id_number": self.id_number_masked,
            "current": self.is_current,
        }


def registration_holdings(registration: Registration, versions) -> list[Holding]:
    """The registration's earlier versions, oldest first, then its current values."""
    holdings, since = [], registration.registered_at
    for version in sorted(versions, key=lambda v: v.version):
        values = version.values or {}
        holdings.append(
            Holding(
                registration,
                version,
                version.id_number_digest,
                values.get("full_name", ""),
                _iso(values.get("birth_date")),
                values.get("id_number_masked", ""),
                since,
                version.replaced_at,
            )
        )
        since = version.replaced_at
    holdings.append(
        Holding(
            registration,
            None,
            registration.id_number_digest,
            registration.full_name,
            _iso(registration.birth_date),
            registration.id_number_masked,
            since,
            None,
        )
    )
    return holdings


def classify(holdings: list[Holding], claim: PersonClaim, decisions: dict) -> None:
    """Mark every holding ``mine``, ``ambiguous`` or ``other`` (rules in the module text)."""
    digests = set(claim.digests)
    candidates = [h for h in holdings if h.digest and h.digest in digests]
    identities = {(h.name_key, h.birth_date) for h in candidates}
    for holding in holdings:
        holding.status = "other"
    for holding in candidates:
        decided = decisions.get(holding.key)
        if decided in ("include", "exclude"):
            holding.status = "mine" if decided == "include" else "other"
        elif claim.name_key or claim.birth_date:
            agrees = (not claim.name_key or holding.name_key == claim.name_key) and (
                not claim.birth_date or holding.birth_date == claim.birth_date
            )
            holding.status = "mine" if agrees else "ambiguous"
        else:
            holding.status = "mine" if len(identities) == 1 else "ambiguous"


@dataclass
class PersonRecords:
    """A person's holdings, grouped by registration, and the records that follow them."""

    holdings: dict[int, list[Holding]] = field(default_factory=dict)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    answers: list[ClarificationAnswer] = field(default_factory=list)

    def mine(self, registration_id: int) -> list[Holding]:
        return [h for h in self.holdings.get(registration_id, []) if h.status == "mine"]

    @property
    def ambiguous(self) -> list[Holding]:
        return [h for hs in self.holdings.values() for h in hs if h.status == "ambiguous"]

    @property
    def current_ids(self) -> list[int]:
        """Registrations the person holds now."""
        return [pk for pk, hs in self.holdings.items() if hs[-1].status == "mine"]

    @property
    def earlier_only_ids(self) -> list[int]:
        """Registrations someone else holds now, with earlier values that were the person's."""
        return [
            pk
            for pk, hs in self.holdings.items()
            if hs[-1].status != "mine" and any(h.status == "mine" for h in hs)
        ]

    def identity_values(self) -> dict[str, set[str]]:
        """The person's names (comparison keys), birth dates and masked ID numbers."""
        mine = [h for hs in self.holdings.values() for h in hs if h.status == "mine"]
        return {
            "full_name": {h.name_key for h in mine if h.name_key},
            "birth_date": {h.birth_date for h in mine if h.birth_date},
            "id_number": {h.id_number_masked for h in mine if h.id_number_masked},
        }

    def side_is_mine(self, discrepancy: Discrepancy, values: dict) -> bool:
        """One side of a discrepancy's details: the person's when every identity value it
        shows is theirs; a side showing none (status, dates) when it was recorded while one of
        the person's holdings was in force."""
        if not isinstance(values, dict):
            return False
        shown = {name: values.get(name) for name in IDENTITY_FIELDS if values.get(name)}
        if not shown:
            return any(
                h.in_force(discrepancy.detected_at)
                for h in self.mine(discrepancy.registration_id or 0)
            )
        identity = self.identity_values()
        for name, value in shown.items():
            value = normalize_name_for_comparison(value) if name == "full_name" else value
            value = _iso(value) if name == "birth_date" else value
            if value not in identity[name]:
                return False
        return True

    def discrepancy_sides(self, discrepancy: Discrepancy) -> dict:
        """The sides of ``discrepancy.details`` that hold the person's data."""
        details = discrepancy.details or {}
        return {
            side: values
            for side, values in details.items()
            if isinstance(values, dict) and self.side_is_mine(discrepancy, values)
        }

    def answer_is_mine(self, answer: ClarificationAnswer) -> bool:
        """A proposed correction is the person's when its ID number is theirs; one that leaves
        the ID number alone belongs to whoever held the registration when it was answered."""
        registration_id = answer.clarification.registration_id
        if answer.correction_id_number_encrypted:
            number = pii.decrypt(answer.correction_id_number_encrypted)
            holdings = self.holdings.get(registration_id, [])
            digests = {h.digest for h in holdings if h.status == "mine"}
            return bool(digests & set(pii.digests(number)))
        return any(h.in_force(answer.created_at) for h in self.mine(registration_id))


def person_records(claim: PersonClaim, decisions: dict | None = None) -> PersonRecords:
    """Every holding of the registrations where the claim's ID digests appear (now or in an
    earlier version), classified, with the discrepancies and answers of those registrations.
    Anonymised registrations carry no digest any more, nor do their versions: not found."""
    digests = list(claim.digests)
    via_versions = RegistrationVersion.objects.filter(id_number_digest__in=digests).values(
        "registration_id"
    )
    registrations = list(
        Registration.objects.filter(Q(id_number_digest__in=digests) | Q(pk__in=via_versions))
        .select_related("outlet", "policy")
        .order_by("registered_at", "pk")
    )
    ids = [r.pk for r in registrations]
    versions: dict[int, list[RegistrationVersion]] = {pk: [] for pk in ids}
    for version in RegistrationVersion.objects.filter(registration_id__in=ids):
        versions[version.registration_id].append(version)
    records = PersonRecords()
    for registration in registrations:
        records.holdings[registration.pk] = registration_holdings(
            registration, versions[registration.pk]
        )
    # Classified together: two registrations under one number with different people on them
    # are ambiguous even if each is consistent on its own.
    classify([h for hs in records.holdings.values() for h in hs], claim, decisions or {})
    touched = [pk for pk, hs in records.holdings.items() if any(h.status != "other" for h in hs)]
    records.discrepancies = list(
        Discrepancy.objects.filter(registration_id__in=touched).order_by("detected_at", "pk")
    )
    records.answers = list(
        ClarificationAnswer.objects.filter(clarification__registration_id__in=touched)
        .select_related("clarification")
        .order_by("created_at", "pk")
    )
    return records


# Audit actions about a minor's registration that are processing of the guardian's own data:
# the registration made with their NIK and face, the registry's check of them, a view of the
# face photo, and what the portal did to their part of it. The rest of the registration's trail
# (the outlet's views, clarifications, corrections) is the minor's.
GUARDIAN_ACTIONS = (
    "registration.create",
    "registration.import",
    "registration.registry_verified",
    "registration.registry_refused",
    "registration.photo_view",
    "registration.face_photos_deleted",
    "registration.guardian_erased",
    "registration.guardian_erasure_deferred",
    "registration.anonymised",
)


def guardian_registrations(digests, *, exclude=()) -> list[Registration]:
    """Registrations where one of ``digests`` is the guardian's (head of family's) NIK — a
    minor's registrations made through this person — other than ``exclude`` (their own).
    Anonymised registrations carry no guardian digest any more: not found. Through the partial
    index ``reg_guardian_digest_idx``."""
    digests = [d for d in digests if d]
    if not digests:
        return []
    return list(
        Registration.objects.filter(guardian_id_number_digest__in=digests)
        .exclude(pk__in=list(exclude))
        .select_related("outlet", "policy")
        .order_by("registered_at", "pk")
    )


def disagreements(records: PersonRecords, claim: PersonClaim) -> list[tuple[Holding, list[str]]]:
    """Each holding still ambiguous, with what disagrees (``full_name``, ``birth_date``): with
    the claim's name or birth date where the request gives them, else among the records the
    number matched (one NIK, two people)."""
    digests = set(claim.digests)
    candidates = [h for hs in records.holdings.values() for h in hs if h.digest in digests]
    names = {h.name_key for h in candidates}
    births = {h.birth_date for h in candidates}
    out = []
    for holding in records.ambiguous:
        fields = []
        if claim.name_key or claim.birth_date:
            if claim.name_key and holding.name_key != claim.name_key:
                fields.append("full_name")
            if claim.birth_date and holding.birth_date != claim.birth_date:
                fields.append("birth_date")
        else:
            if len(names) > 1:
                fields.append("full_name")
            if len(births) > 1:
                fields.append("birth_date")
        out.append((holding, fields))
    return out
