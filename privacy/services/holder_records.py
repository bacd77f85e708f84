"""Erasure of what the holder's door (``/nomor-saya/``) keeps under a person's NIK.

Decided as the product owner (docs/privacy.md, "The holder's door"; docs/holders.md,
"Retention"): the door's records are the person's — their NIK's digest and masked copy, the
login number they typed, their words in a dispute — and an erasure removes them at once,
whatever state a dispute is in. A dispute still being handled stays actionable: what the
workflow reads (the disputed number, its registration, the status and notice window, the
answer link's hash, the review item and the outlet's clarification) is kept, and none of it
names the person. So the number is still blocked after the notice window unless its user
answers, and GraPARI still decides — without the person's note, which they withdrew.
"""

from holders.models import HolderDispute, HolderKeepChoice, HolderSession


def holder_records_erase(*, digests, dispute_ids=(), keep_choice_ids=()) -> dict:
    """Delete the sessions opened with the NIK (hashed code and token, digest, masked NIK, login
    number: nothing in them outlives the person's request), and blank the NIK's digest and the
    note of its disputes and the digest of its numbers not kept — found by digest, and by key
    (a restore's second pass). Safe to run twice. Returns what was done."""
    digests = [d for d in digests if d]
    _total, deleted = HolderSession.objects.filter(nik_digest__in=digests).delete()
    sessions = deleted.get(HolderSession._meta.label, 0)
    disputes = HolderDispute.objects.filter(nik_digest__in=digests) | HolderDispute.objects.filter(
        pk__in=list(dispute_ids)
    )
    disputes = disputes.exclude(nik_digest="", note="", session__isnull=True)
    erased_disputes = sorted(disputes.values_list("pk", flat=True))
    HolderDispute.objects.filter(pk__in=erased_disputes).update(
        nik_digest="", note="", session=None
    )
    choices = HolderKeepChoice.objects.filter(
        nik_digest__in=digests
    ) | HolderKeepChoice.objects.filter(pk__in=list(keep_choice_ids))
    choices = choices.exclude(nik_digest="", session__isnull=True)
    erased_choices = sorted(choices.values_list("pk", flat=True))
    HolderKeepChoice.objects.filter(pk__in=erased_choices).update(nik_digest="", session=None)
    return {
        "holder_sessions_deleted": sessions,
        "holder_disputes_erased": erased_disputes,
        "holder_numbers_not_kept_erased": erased_choices,
    }


def holder_records_of_registrations_erase(registration_ids) -> None:
    """A registration anonymised (retention or erasure): the disputes about it and the choice
    not to keep it lose the NIK's digest and the note too — the registration no longer names
    the person, and neither may what the door kept about it."""
    ids = list(registration_ids)
    if not ids:
        return
    HolderDispute.objects.filter(registration_id__in=ids).exclude(nik_digest="", note="").update(
        nik_digest="", note=""
    )
    HolderKeepChoice.objects.filter(registration_id__in=ids).exclude(nik_digest="").update(
        nik_digest=""
    )
