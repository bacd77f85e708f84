"""Erasure of the personal data the compliance workflow keeps about registrations."""

from ..models import ClarificationAnswer, RegistrationVersion


def workflow_personal_data_erase(
    *, registration_ids, keep_version_ids=(), keep_answer_ids=()
) -> int:
    """Blank the personal data the workflow keeps about these registrations — the values of
    their earlier versions, the corrections proposed for them and their evidence photos — the
    way ``privacy.services.anonymise`` blanks the registration itself (names, places, address,
    ID and KK numbers go; the birth date keeps its year). For the retention purge and erasure
    to call in their transaction. Versions and answers in ``keep_*`` are another person's data
    (a registration corrected from or to someone else) and are left alone. Returns the rows
    changed."""
    ids = list(registration_ids)
    changed = 0
    versions = RegistrationVersion.objects.filter(registration_id__in=ids).exclude(
        pk__in=list(keep_version_ids)
    )
    for version in versions:
        version_anonymise(version)
        changed += 1
    answers = ClarificationAnswer.objects.filter(clarification__registration_id__in=ids).exclude(
        pk__in=list(keep_answer_ids)
    )
    for answer in answers:
        if answer.evidence_photo:
            answer.evidence_photo.delete(save=False)
        answer.correction = {name: "" for name in answer.correction}
        answer.explanation = ""  # free text: it may name the buyer
        answer.correction_id_number_encrypted = answer.correction_kk_number_encrypted = ""
        answer.evidence_photo = ""
        answer.save()
        changed += 1
    return changed


def version_anonymise(version: RegistrationVersion) -> None:
    """Erase the person from one earlier version of a registration: names, place, address and
    masked numbers blanked, the birth date cut to its year, the encrypted numbers and their
    digests removed (what an erasure leaves of any registration's history)."""
    values = dict(version.values or {})
    for name in ("full_name", "birth_place", "address", "id_number_masked", "kk_number_masked"):
        if name in values:
            values[name] = ""
    if values.get("birth_date"):
        values["birth_date"] = str(values["birth_date"])[:4]
    version.values = values
    version.id_number_encrypted = version.kk_number_encrypted = ""
    version.id_number_digest = version.kk_number_digest = ""
    version.save()
