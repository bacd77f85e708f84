"""The personal-data primitives of ``core.pii`` over a whole chunk at once: the same Fernet
tokens and keyed digests, without the per-value set-up.

``core.pii.encrypt`` builds a padder, a CBC context and an HMAC object for each value, and
``core.pii.digest`` an HMAC object; on a chunk of thousands of ID and KK numbers that set-up is
most of their cost. Here:

- ``encrypt_many`` writes standard Fernet tokens (version, time, a random IV per token, AES-128
  in CBC mode with PKCS #7 padding, HMAC-SHA256 over all of it) under the primary key of
  ``FIELD_ENCRYPTION_KEYS``, as ``pii.encrypt`` does: ``pii.decrypt`` (and any Fernet) reads
  them. CBC is computed a block at a time across the chunk: every token's first block in one
  call of the block cipher, then every second block, and so on — the same chaining, each token
  with its own IV;
- ``digest_many`` is ``pii.digest`` value by value (HMAC-SHA256 under ``ID_DIGEST_KEY``, one
  call of the hash library each); while a digest-key rotation is configured it simply calls
  ``pii.digest`` for each value (which then asks the database which key a number is under).
"""

from __future__ import annotations

import base64
import hmac
import os
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings

from core import pii

_BLOCK = 16
_VERSION = b"\x80"


def _keys() -> tuple[bytes, bytes]:
    """(signing key, encryption key) of the primary Fernet key, as Fernet splits it."""
    key = base64.urlsafe_b64decode(settings.FIELD_ENCRYPTION_KEYS[0])
    if len(key) != 32:  # pragma: no cover - Fernet refuses such a key at start-up already
        raise ValueError("a Fernet key is 32 bytes, base64-encoded")
    return key[:16], key[16:]


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def encrypt_many(values: list[str]) -> list[str]:
    """``[pii.encrypt(v) for v in values]``: a Fernet token per value ('' for '')."""
    signing_key, encryption_key = _keys()
    texts = [value.encode() for value in values if value]
    if not texts:
        return ["" for _ in values]
    count = len(texts)
    padded = []
    for text in texts:
        pad = _BLOCK - len(text) % _BLOCK
        padded.append(text + bytes((pad,)) * pad)
    ivs = os.urandom(_BLOCK * count)
    previous = [ivs[i * _BLOCK : (i + 1) * _BLOCK] for i in range(count)]
    ciphertexts = [b""] * count
    block_cipher = Cipher(algorithms.AES(encryption_key), modes.ECB()).encryptor()  # noqa: S305 - CBC, chained below
    rounds = max(len(p) for p in padded) // _BLOCK
    for round_ in range(rounds):
        start = round_ * _BLOCK
        active = [i for i in range(count) if len(padded[i]) > start]
        plain = b"".join(padded[i][start : start + _BLOCK] for i in active)
        chained = b"".join(previous[i] for i in active)
        encrypted = block_cipher.update(_xor(plain, chained))
        for position, i in enumerate(active):
            block = encrypted[position * _BLOCK : (position + 1) * _BLOCK]
            previous[i] = block
            ciphertexts[i] += block
    head = _VERSION + int(time.time()).to_bytes(8, "big")
    tokens = []
    for i in range(count):
        parts = head + ivs[i * _BLOCK : (i + 1) * _BLOCK] + ciphertexts[i]
        mac = hmac.digest(signing_key, parts, "sha256")
        tokens.append(base64.urlsafe_b64encode(parts + mac).decode())
    found = iter(tokens)
    return [next(found) if value else "" for value in values]


def _rotating() -> bool:
    previous = getattr(settings, "ID_DIGEST_KEY_PREVIOUS", "")
    return bool(previous) and previous != settings.ID_DIGEST_KEY


def digest_many(values: list[str]) -> list[str]:
    """``[pii.digest(v) for v in values]`` ('' for '')."""
    if _rotating():
        return [pii.digest(value) for value in values]
    key = settings.ID_DIGEST_KEY.encode()
    return [hmac.digest(key, value.encode(), "sha256").hex() if value else "" for value in values]
