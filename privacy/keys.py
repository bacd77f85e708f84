"""Which key a ciphertext is under, and how much of the data the primary key already covers.

``core.pii`` encrypts with the first of ``FIELD_ENCRYPTION_KEYS`` and decrypts with any.
Rotation (``privacy.services.key_rotation_*``) re-encrypts what the first key cannot read alone;
``key_coverage`` checks, read-only, that nothing is left before an old key is removed.
"""

from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings

from .encrypted_fields import ENCRYPTED_FIELDS


@lru_cache(maxsize=4)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    fernets = [Fernet(key.encode()) for key in keys]
    return fernets[0], MultiFernet(fernets)


def _configured() -> tuple[Fernet, MultiFernet]:
    return _fernets(tuple(settings.FIELD_ENCRYPTION_KEYS))


def key_status(token: str) -> str:
    """``primary`` (readable with the first key alone), ``older`` (needs another listed key) or
    ``unreadable`` (no listed key: a key was removed too early)."""
    primary, every = _configured()
    data = token.encode()
    try:
        primary.decrypt(data)
        return "primary"
    except InvalidToken:
        pass
    try:
        every.decrypt(data)
        return "older"
    except InvalidToken:
        return "unreadable"


@dataclass
class FieldCoverage:
    label: str
    field: str
    primary: int = 0
    older: int = 0
    unreadable: int = 0
    unreadable_ids: list = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.older == 0 and self.unreadable == 0


def key_coverage(*, chunk_size: int = 2000) -> list[FieldCoverage]:
    """Every encrypted column, counted by key status (a full read; nothing is written)."""
    report = []
    for label, fields in ENCRYPTED_FIELDS.items():
        model = apps.get_model(label)
        coverage = {name: FieldCoverage(label, name) for name in fields}
        rows = model._base_manager.order_by("pk").values_list("pk", *fields)
        for pk, *tokens in rows.iterator(chunk_size=chunk_size):
            for name, token in zip(fields, tokens, strict=True):
                if not token:
                    continue
                status = key_status(token)
                entry = coverage[name]
                setattr(entry, status, getattr(entry, status) + 1)
                if status == "unreadable" and len(entry.unreadable_ids) < 100:
                    entry.unreadable_ids.append(pk)
        report.extend(coverage.values())
    return report
