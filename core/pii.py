"""Personal-data primitives: encryption at rest and keyed digests. Every app that stores or looks
up an ID number goes through these; the normaliser is ``core.idnumbers``, masking for display
``core.masking``.

An ID or KK number is encrypted with Fernet (MultiFernet: the first key in FIELD_ENCRYPTION_KEYS
encrypts, every listed key decrypts, so keys rotate without downtime) and looked up through an
HMAC-SHA256 digest with its own key, so equality searches never need to decrypt.
"""

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from .idnumbers import normalize_id_number


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return _current().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a key was removed before its rows were re-encrypted
        raise ValueError("ID number cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the primary key (no-op in meaning, new ciphertext)."""
    return _current().rotate(token.encode()).decode() if token else ""


def digest(value: str) -> str:
    """Keyed digest for equality look-ups of a normalised ID number; '' for no value."""
    if not value:
        return ""
    key = settings.ID_DIGEST_KEY.encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def id_digest(id_type: str, number: str) -> str:
    """The keyed digest of an ID number as typed (normalised first, ``core.idnumbers``)."""
    return digest(normalize_id_number(id_type, number))
