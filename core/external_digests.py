"""The external systems' copies and the digest key: which must be loaded again after a rotation.

The operator's subscriber snapshot and the population registry's file hold ID numbers as keyed
digests only (``operatordb``). A digest-key rotation moves every copy of a number the portal
also holds encrypted (it learns the pair old → new from the ciphertext), but a number only the
external copy knows cannot be re-digested without the number: it stays under the retired key
until the file is loaded again. Compared with the portal's new digests such a number would be
reported as missing or mismatched — findings that are not true.

So the end of a rotation marks each copy that holds rows as stale (``core.DigestKeyState``),
``rotate_digest_key`` says what to load, and:

- a reconciliation run refuses to start its work while the operator's snapshot is stale
  (``reconciliation_refusal``, read when a run is planned), with what to do;
- a *full* load of the snapshot (``load_operator_snapshot`` without ``--delta``) or a load of
  the registry file after the rotation ended clears the mark (``mark_reloaded``). A load while
  a rotation is still under way does not: it digests under the previous key.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

OPERATOR_SNAPSHOT = "operator_snapshot"
POPULATION_REGISTRY = "population_registry"
FIELDS = {
    OPERATOR_SNAPSHOT: "operator_snapshot_stale_since",
    POPULATION_REGISTRY: "population_registry_stale_since",
}


def stale() -> dict[str, datetime]:
    """The external copies waiting for a reload since a rotation, and since when."""
    from .models import DigestKeyState

    state = DigestKeyState.objects.filter(pk=1).values(*FIELDS.values()).first() or {}
    return {source: state[name] for source, name in FIELDS.items() if state.get(name)}


def mark_stale(sources, *, now: datetime | None = None) -> None:
    """Mark ``sources`` as holding digests under a retired key (in the caller's transaction:
    the rotation's last one). An earlier mark keeps its time."""
    from .models import DigestKeyState

    now = now or timezone.now()
    for source in sources:
        name = FIELDS[source]
        DigestKeyState.objects.filter(pk=1, **{f"{name}__isnull": True}).update(**{name: now})


def mark_reloaded(source: str) -> bool:
    """A load of ``source`` that wrote every row under the key in force: clears its mark.
    Not while a rotation is prepared or under way (the loader digests under the previous key
    then). Returns whether a mark was cleared."""
    from . import pii
    from .models import DigestKeyState

    if pii.rotation_state() in ("prepared", "rotating"):
        return False
    name = FIELDS[source]
    return bool(
        DigestKeyState.objects.filter(pk=1, **{f"{name}__isnull": False}).update(**{name: None})
    )


def reconciliation_refusal() -> str:
    """Why reconciliation must not compare now ('' when it may): the operator's snapshot holds
    numbers under a digest key a rotation retired. In the portal's language whatever the
    caller's: it is stored with the run, which every reader sees."""
    since = stale().get(OPERATOR_SNAPSHOT)
    if since is None:
        return ""
    with translation.override(settings.LANGUAGE_CODE):
        return _(
            "The operator's snapshot was loaded before the digest key was rotated (%(at)s): the "
            "numbers only it holds are still under the old key and would be reported as "
            "discrepancies that are not there. Load a full snapshot (manage.py "
            "load_operator_snapshot FILE), then start the run again."
        ) % {"at": timezone.localtime(since).strftime("%Y-%m-%d %H:%M")}
