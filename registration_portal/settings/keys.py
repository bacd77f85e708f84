"""Production's key rules (docs/security.md, "Keys"): refuse to start with a weak key.

- every ``FIELD_ENCRYPTION_KEYS`` entry is a Fernet key (32 bytes, URL-safe base64) of random
  bytes — not text dressed up as a key (``base64("local-dev-only-fernet-key-000000")``);
- ``ID_DIGEST_KEY`` holds at least 32 random bytes' worth of characters (``secrets.token_urlsafe
  (32)``: 43 characters) and is none of the encryption keys;
- no key (``SECRET_KEY`` included) is a value committed in the repository: the demo keys of
  ``settings/local.py`` and ``settings/test.py`` are declared here, once (those settings take
  them from here), and refused by that list; start-up reads no file of the repository.
  ``tests/ops/test_production_keys.py`` searches the repository for any other committed key and
  fails until it is listed here.

Pure Python and the standard library: the settings import it before Django is set up.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter

from django.core.exceptions import ImproperlyConfigured

MIN_KEY_BYTES = 32
# Shannon entropy of the characters times their number: 32 random bytes give 256 bits; a key
# made of 32+ characters of a 43-character URL-safe string gives about 210, 64 hex digits about
# 250. Text, repeated or sequential characters stay far below.
MIN_DIGEST_KEY_BITS = 160
HOW_TO = (
    "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))' "
    "(ID_DIGEST_KEY, SECRET_KEY) or python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())' (FIELD_ENCRYPTION_KEYS). See docs/security.md."
)
# The demo keys the repository commits, so `make run` and the tests need no setup. Anyone with
# the source has them: production refuses each (and anything that merely contains one).
LOCAL_DEMO_KEYS = {
    "SECRET_KEY": "local-dev-only-not-secret-3c9f1b7e",
    "FIELD_ENCRYPTION_KEYS": "bG9jYWwtZGV2LW9ubHktZmVybmV0LWtleS0wMDAwMDA=",
    "ID_DIGEST_KEY": "local-dev-only-digest-key",
}
TEST_DEMO_KEYS = {
    "SECRET_KEY": "test-only-secret-key",
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDAwMDAwMDAwMDA=",
    "ID_DIGEST_KEY": "test-only-digest-key",
}
COMMITTED_KEYS = frozenset(
    value for keys in (LOCAL_DEMO_KEYS, TEST_DEMO_KEYS) for value in keys.values()
)


def _fail(message: str) -> None:
    raise ImproperlyConfigured(f"{message} {HOW_TO}")


def _string_bits(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total


def _looks_random(raw: bytes) -> bool:
    """32 random bytes are printable ASCII with a chance of (95/256)**32, about 1e-14."""
    printable = all(0x20 <= b < 0x7F for b in raw)
    return not printable and len(set(raw)) >= len(raw) // 2


def _fernet_bytes(name: str, key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.encode())
    except (binascii.Error, ValueError):
        _fail(f"{name}: an entry is not URL-safe base64.")
    if len(raw) != MIN_KEY_BYTES:
        _fail(f"{name}: each key must be {MIN_KEY_BYTES} random bytes (a Fernet key).")
    return raw


def find_committed(values: dict[str, str]) -> str | None:
    """The first setting whose value is, or contains, a committed demo key."""
    for name, value in values.items():
        if value and any(known in value for known in COMMITTED_KEYS):
            return name
    return None


def check_production_keys(*, secret_key: str, encryption_keys: list[str], digest_key: str) -> None:
    encryption_keys = [key.strip() for key in encryption_keys]
    if not encryption_keys or not all(encryption_keys):
        _fail("FIELD_ENCRYPTION_KEYS must list at least one key, with no empty entry.")
    raw_keys = [_fernet_bytes("FIELD_ENCRYPTION_KEYS", key) for key in encryption_keys]
    if len(digest_key.encode()) < MIN_KEY_BYTES:
        _fail(f"ID_DIGEST_KEY must be at least {MIN_KEY_BYTES} characters of random data.")
    # A committed value first: the most telling reason (the demo keys are also text).
    values = {"SECRET_KEY": secret_key, "ID_DIGEST_KEY": digest_key}
    values.update({f"FIELD_ENCRYPTION_KEYS[{i}]": k for i, k in enumerate(encryption_keys)})
    found = find_committed(values)
    if found:
        _fail(
            f"{found} is a demo value committed in the repository (settings/keys.py): anyone "
            "with the source has it."
        )
    if not all(_looks_random(raw) for raw in raw_keys):
        _fail(
            "FIELD_ENCRYPTION_KEYS: a key decodes to text, not random bytes "
            "(a hand-made or demo key)."
        )
    repeated = re.fullmatch(r"(.{1,16}?)\1+", digest_key, flags=re.DOTALL)
    if repeated or _string_bits(digest_key) < MIN_DIGEST_KEY_BITS:
        _fail("ID_DIGEST_KEY does not look random (repeated, sequential or plain-text characters).")
    if digest_key in encryption_keys:
        _fail("ID_DIGEST_KEY must not be one of the FIELD_ENCRYPTION_KEYS: use separate keys.")
