"""A registration's check against the population registry (``core.registry``), at the counter
and, when the registry could not answer then, later (``services.registration_verify``).

Under a rule set with ``registry_check`` a citizen's NIK must be in the registry, the KK must be
that NIK's family card where the rule asks for a KK, and the name, birth date and sex entered
must agree with the registry's record (``rules.judge_against_registry``). Under a rule set that
accepts a face (``citizen_proof`` "nik_kk_or_face" or "nik_face") the registry also verifies the
face photo — the buyer's, or for a minor the head of family's. The face's verdict, score and the
photo's SHA-256 are the evidence kept; the photo itself for a few days (docs/rules.md).

When the registry does not answer in time (``RegistryUnavailable``) nothing is refused: the
outcome says "awaiting", and the registration is kept awaiting verification.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from core import pii
from core.registry import FaceResult, FaceVerdict, RegistryUnavailable, get_registry
from core.registry import registry_timeout as _timeout

from .models import CitizenProof
from .rules import (
    CleanRegistration,
    FieldErrors,
    age_on,
    judge_against_registry,
    judge_guardian,
    registry_warning,
)


@dataclass
class RegistryOutcome:
    checked: bool = False  # the registry answered (and its verdict is in the errors/warnings)
    awaiting: bool = False  # it did not: keep the registration awaiting verification
    face: FaceResult | None = None
    face_sha256: str = ""
    face_used: bool = False  # the face is the proof (KK or face: no KK given)
    kk_digest: str = ""  # the buyer's family card as the registry knows it (its digest)


def applies(policy, clean: CleanRegistration) -> bool:
    """The registry is asked about this registration (a citizen's NIK under a rule set that
    validates against the registry)."""
    return bool(policy.registry_check) and clean.is_citizen and clean.has_nik


def face_is_proof(policy, clean: CleanRegistration) -> bool:
    """The face (verified by the registry) identifies this citizen."""
    if not clean.is_citizen or not clean.has_nik:
        return False
    if policy.citizen_proof == CitizenProof.NIK_FACE:
        return True
    return policy.citizen_proof == CitizenProof.NIK_KK_OR_FACE and not clean.kk_number


def face_asked_of_input(policy, data) -> bool:
    """For a body whose fields do not all hold yet: would a face be asked of this buyer? (So a
    missing face photo is reported with the other faults, not after them.)"""
    nationality = (str(data.get("nationality") or "ID")).strip().upper()
    id_type = str(data.get("id_type") or "").strip().lower()
    return (
        policy.citizen_proof == CitizenProof.NIK_FACE
        and nationality == "ID"
        and id_type in ("ktp", "sim")
    )


def kk_asked(policy, clean: CleanRegistration) -> bool:
    """The rule asks for the KK here: NIK + KK, or KK or face with the KK given."""
    if policy.citizen_proof == CitizenProof.NIK_KK:
        return True
    return policy.citizen_proof == CitizenProof.NIK_KK_OR_FACE and bool(clean.kk_number)


def face_message(result: FaceResult, *, kk_instead: bool, head_of_family: bool = False) -> str:
    if result.verdict == FaceVerdict.UNREADABLE:
        message = _("The population registry could not read the face photo. Take it again.")
    elif head_of_family:
        message = _(
            "The face photo does not match the population registry's record of the head of "
            "family's NIK (similarity %(score)d%%): for a buyer under 17 the photo is of the head "
            "of family, present at the counter. Take it again, face on and well lit; if it still "
            "does not match, the head of family must update their data at Dukcapil."
        ) % {"score": round(result.score * 100)}
    else:
        message = _(
            "The face photo does not match the population registry's record of this NIK "
            "(similarity %(score)d%%). Take the photo again, face on and well lit; if it still "
            "does not match, the buyer must update their data at Dukcapil."
        ) % {"score": round(result.score * 100)}
    if kk_instead:
        message = f"{message} " + _("Or register with the family card (KK) number instead.")
    return message


def check(
    clean: CleanRegistration,
    *,
    policy,
    face_image: bytes | None,
    today: date,
    errors: FieldErrors,
    face_needed: bool = True,
) -> RegistryOutcome:
    """Ask the registry about ``clean`` (when ``applies``) and put its verdict in ``errors``
    (at the fields) and ``clean.warnings``. ``face_image``: the face photo's bytes when one was
    taken. ``face_needed`` False: the channel carries no photos (an import)."""
    outcome = RegistryOutcome()
    if not applies(policy, clean):
        return outcome
    registry = get_registry()
    timeout = _timeout()
    use_face = face_needed and face_is_proof(policy, clean)
    outcome.face_used = use_face
    if use_face and face_image is not None:
        outcome.face_sha256 = hashlib.sha256(face_image).hexdigest()
    wanted = [clean.id_number] + ([clean.guardian_id_number] if clean.guardian_id_number else [])
    try:
        people = registry.lookup(wanted, timeout=timeout)
    except RegistryUnavailable:
        outcome.awaiting = True
        return outcome
    person = people.get(clean.id_number)
    outcome.kk_digest = getattr(person, "kk_digest", "") or ""
    start = errors.total
    judge_against_registry(
        clean,
        person,
        kk_digest=pii.digest(clean.kk_number) if clean.kk_number else "",
        kk_asked=kk_asked(policy, clean),
        errors=errors,
    )
    face_subject = clean.id_number
    limit = policy.minor_age_limit
    # A minor registers through the head of family, whose face is verified: a channel
    # without photos (an import) records the sale as it was made.
    if face_needed and person is not None and limit and age_on(person.birth_date, today) < limit:
        if not clean.guardian_id_number:
            errors.add(
                "guardian_id_number",
                str(
                    _(
                        "The buyer is under %(age)d: enter the NIK of the head of family on the "
                        "buyer's family card (KK); the registry verifies the head of family's "
                        "face."
                    )
                    % {"age": limit}
                ),
            )
        else:
            judge_guardian(clean, person, people.get(clean.guardian_id_number), errors=errors)
            face_subject = clean.guardian_id_number
    if errors.total > start or not use_face or face_image is None:
        outcome.checked = True
        return outcome
    try:
        outcome.face = registry.verify_face(face_subject, face_image, timeout=timeout)
    except RegistryUnavailable:
        outcome.awaiting = True
        return outcome
    outcome.checked = True
    if outcome.face.verdict == FaceVerdict.NO_REFERENCE:
        # Nothing to compare with: the photo passes, its verdict kept as the evidence and the
        # clerk told (the registry's own record is what is missing, not the buyer's face).
        clean.warnings.append(registry_warning("face_no_reference"))
        return outcome
    if not outcome.face.matched:
        kk_instead = policy.citizen_proof == CitizenProof.NIK_KK_OR_FACE
        errors.add(
            "face_photo",
            face_message(
                outcome.face,
                kk_instead=kk_instead,
                head_of_family=face_subject != clean.id_number,
            ),
        )
    return outcome


# --- what the registry holds, beside what was entered (GraPARI's review page) -------------------


@dataclass
class RegistryComparison:
    """The registry's record of a registration's NIK beside the registration's values.

    ``state``: "found", "not_found" (the registry does not know the NIK) or "unavailable" (it
    did not answer). ``disagrees``: the fields among ``full_name``, ``birth_date``, ``sex``
    whose entered value the registry's judgement refuses (the portal's name comparison; a
    birth date or sex the NIK's digits contradict but the registry confirms agrees).
    ``kk_matches``: the KK entered is the NIK's family card (None: no KK was entered)."""

    state: str
    full_name: str = ""
    birth_date: date | None = None
    sex: str = ""
    disagrees: frozenset = field(default_factory=frozenset)
    kk_matches: bool | None = None


COMPARED_FIELDS = frozenset({"full_name", "birth_date", "sex"})


def compare(clean: CleanRegistration) -> RegistryComparison | None:
    """Ask the registry about ``clean``'s NIK and judge the values entered against its record
    with the counter's judgement (``rules.judge_against_registry``, the KK as asked). None
    when there is no citizen's NIK to ask about. Never raises for the registry's absence."""
    if not (clean.is_citizen and clean.has_nik):
        return None
    try:
        people = get_registry().lookup([clean.id_number], timeout=_timeout())
    except RegistryUnavailable:
        return RegistryComparison(state="unavailable")
    person = people.get(clean.id_number)
    if person is None:
        return RegistryComparison(state="not_found")
    errors = FieldErrors()
    judge_against_registry(
        clean,
        person,
        kk_digest=pii.digest(clean.kk_number) if clean.kk_number else "",
        kk_asked=True,
        errors=errors,
    )
    return RegistryComparison(
        state="found",
        full_name=person.full_name,
        birth_date=person.birth_date,
        sex=person.sex,
        disagrees=frozenset(errors.errors) & COMPARED_FIELDS,
        kk_matches=None if not clean.kk_number else "kk_number" not in errors.errors,
    )
