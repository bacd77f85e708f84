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


def _hmac(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def digest(value: str) -> str:
    """Keyed digest of a normalised ID number, for storing and comparing; '' for no value.

    Outside a digest-key rotation: the HMAC under ``ID_DIGEST_KEY``. During one
    (``ID_DIGEST_KEY_PREVIOUS`` set): the digest the database holds for this number *now* — the
    new key's once the rotation has re-digested the number everywhere (``DigestKeyMap``), the
    old key's until then. The rotation moves every copy of a number from old to new in one
    transaction, so a digest from here always equals every stored copy of the same number."""
    if not value:
        return ""
    previous = _previous_key()
    if not previous:
        return _hmac(settings.ID_DIGEST_KEY, value)
    return _canonical(_hmac(previous, value), lambda: _hmac(settings.ID_DIGEST_KEY, value))


def encrypt_many(values: list[str]) -> list[str]:
    """``[encrypt(v) for v in values]``, the key set looked up once (bulk paths: the import)."""
    fernet = _current()
    return [fernet.encrypt(value.encode()).decode() if value else "" for value in values]


def digest_many(values: list[str]) -> list[str]:
    """``[digest(v) for v in values]``: outside a digest-key rotation the key is read once;
    during one, each value goes through ``digest`` (which asks the database)."""
    if _previous_key():
        return [digest(value) for value in values]
    key = settings.ID_DIGEST_KEY.encode()
    # hmac.digest: the same HMAC-SHA256 as ``digest``'s hmac.new, in one call into OpenSSL.
    return [hmac.digest(key, v.encode(), "sha256").hex() if v else "" for v in values]


def _previous_key() -> str:
    previous = getattr(settings, "ID_DIGEST_KEY_PREVIOUS", "")
    return previous if previous and previous != settings.ID_DIGEST_KEY else ""


def rotation_state() -> str:
    """``"none"`` (no previous key configured), ``"prepared"`` (the stored digests are still
    the previous key's), ``"rotating"`` (the rotation job is moving them) or ``"done"``."""
    if not _previous_key():
        return "none"
    from .models import DigestKeyState

    state = (
        DigestKeyState.objects.filter(pk=1)
        .values_list("fingerprint", "previous_fingerprint")
        .first()
    )
    if state is None:
        return "done"
    if state[1]:
        return "rotating"
    return "done" if state[0] == key_fingerprint(settings.ID_DIGEST_KEY) else "prepared"


def _canonical(old: str, new) -> str:
    from .models import DigestKeyMap

    state = rotation_state()
    if state == "done":
        return new()
    if state == "rotating":
        mapped = DigestKeyMap.objects.filter(old=old).values_list("new", flat=True).first()
        if mapped:
            return mapped
    return old


def loader_key() -> str:
    """The key a bulk loader (the operator snapshot) digests with before
    ``canonicalise_sql`` maps what the rotation already moved: the previous key while the
    stored digests are (partly) the previous key's, else ``ID_DIGEST_KEY``."""
    if rotation_state() in ("prepared", "rotating"):
        return _previous_key()
    return settings.ID_DIGEST_KEY


def canonicalise_sql(table: str, column: str) -> str | None:
    """SQL that turns the previous key's digests in ``table.column`` (a staging table a bulk
    loader filled under ``loader_key()``) into the new key's where the rotation already moved
    that number; None outside a rotation. ``table``/``column`` are names written in the code."""
    if rotation_state() != "rotating":
        return None
    return (
        f"UPDATE {table} t SET {column} = m.new FROM core_digestkeymap m "  # noqa: S608
        f"WHERE t.{column} = m.old"
    )


def digests(value: str) -> list[str]:
    """Every digest a stored copy of ``value`` may carry: under ``ID_DIGEST_KEY`` and, while a
    digest-key rotation is under way, under ``ID_DIGEST_KEY_PREVIOUS`` (dual reading). Look-ups
    filter with ``__in`` on this list."""
    if not value:
        return []
    found = [_hmac(settings.ID_DIGEST_KEY, value)]
    previous = _previous_key()
    if previous:
        found.append(_hmac(previous, value))
    return found


def id_digest(id_type: str, number: str) -> str:
    """The keyed digest of an ID number as typed (normalised first, ``core.idnumbers``)."""
    return digest(normalize_id_number(id_type, number))


def id_digests(id_type: str, number: str) -> list[str]:
    """``digests`` of an ID number as typed (normalised first)."""
    return digests(normalize_id_number(id_type, number))


# --- the digest key as a managed secret ------------------------------------------------------

FINGERPRINT_LABEL = "satu-pintu/id-digest-key/fingerprint/v1"


def key_fingerprint(key: str) -> str:
    """A fingerprint of a digest key, safe to store beside the data: an HMAC of a fixed label,
    so it tells which key made the digests without revealing the key or any digest."""
    return _hmac(key, FINGERPRINT_LABEL)[:32] if key else ""


class DigestKeyMismatch(RuntimeError):
    """The configured ``ID_DIGEST_KEY`` is not the key the stored digests were made with."""


# Commands that touch no personal data run without the check (building static files,
# translation catalogues, the deployment check of the settings, the help).
KEYLESS_COMMANDS = frozenset(
    {"collectstatic", "compilemessages", "makemessages", "check", "help", "version",
     "makemigrations", "rotate_digest_key"}
)  # fmt: skip


def digest_key_check(*, record_if_new: bool = True) -> str:
    """Compare the configured key with the fingerprint stored with the data.

    - No fingerprint stored yet (an empty database, or one from before the check): the
      configured key's is recorded and ``"recorded"`` returned.
    - The configured key's fingerprint is the stored one: ``"ok"``.
    - A rotation was prepared (``ID_DIGEST_KEY_PREVIOUS`` holds the stored key) or is under way
      (the stored state names both keys): ``"rotating"`` — look-ups read both.
    - Anything else raises ``DigestKeyMismatch`` with what to do.
    """
    from .models import DigestKeyState

    current = key_fingerprint(settings.ID_DIGEST_KEY)
    previous = key_fingerprint(getattr(settings, "ID_DIGEST_KEY_PREVIOUS", ""))
    state = DigestKeyState.objects.filter(pk=1).first()
    if state is None:
        if record_if_new:
            DigestKeyState.objects.get_or_create(pk=1, defaults={"fingerprint": current})
        return "recorded"
    if state.previous_fingerprint:  # a rotation is under way: both keys must be configured
        if current == state.fingerprint and previous == state.previous_fingerprint:
            return "rotating"
        raise DigestKeyMismatch(
            "A digest-key rotation is under way: ID_DIGEST_KEY must be the new key "
            f"(fingerprint {state.fingerprint}) and ID_DIGEST_KEY_PREVIOUS the old one "
            f"(fingerprint {state.previous_fingerprint}); configured: {current} and "
            f"{previous or 'none'}. Set both, restart, then finish it with "
            "'python manage.py rotate_digest_key' (docs/privacy.md, Digest key rotation)."
        )
    if current == state.fingerprint:
        return "ok"
    if previous and previous == state.fingerprint:
        return "rotating"
    raise DigestKeyMismatch(
        "ID_DIGEST_KEY is not the key this database's ID-number digests were made with "
        f"(stored fingerprint {state.fingerprint}, configured key's {current}). With it, "
        "look-ups, the per-ID cap and the own-ID rule would silently find nothing. Put the "
        "right key back from the secret store; to change the key, set the new one as "
        "ID_DIGEST_KEY and the old one as ID_DIGEST_KEY_PREVIOUS and run "
        "'python manage.py rotate_digest_key' (docs/privacy.md, Digest key rotation)."
    )


def digest_key_check_for_command(argv: list[str]) -> None:
    """``manage.py``: refuse to run a data command with a key that does not match."""
    name = argv[1] if len(argv) > 1 else "help"
    if name.startswith("-") or name in KEYLESS_COMMANDS:
        return
    from django.db import DatabaseError

    try:
        digest_key_check()
    except DatabaseError:
        return  # no database yet (or no tables: migrate creates them and records the key)


def canonical_digests(values) -> dict[str, str]:
    """The previous key's digests among ``values`` that the rotation under way already moved,
    each with its new value (``canonicalise_sql`` for rows held in Python)."""
    from .models import DigestKeyMap

    values = list({v for v in values if v})
    return dict(DigestKeyMap.objects.filter(old__in=values).values_list("old", "new"))
