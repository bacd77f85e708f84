"""Bulk encryption and digests (the import's) store what ``core.pii`` does value by value."""

import base64

import pytest
from cryptography.fernet import Fernet, InvalidToken

from core import pii

# Numbers of every length an import writes: NIK and KK (16 digits, two blocks with the
# padding), a passport (one block), an exact block, a student card (two or three blocks), none.
VALUES = [
    "3171015708900042",
    "",
    "X00000013",
    "A" * 15,
    "B" * 17,
    "1234567890123456789012345678901",
    "3171015708900042",
]


def test_tokens_are_fernet_tokens_of_the_primary_key(settings):
    tokens = pii.encrypt_many(VALUES)
    assert [pii.decrypt(token) for token in tokens] == VALUES
    primary = Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode())
    assert [primary.decrypt(t.encode()).decode() if t else "" for t in tokens] == VALUES
    assert tokens[1] == ""
    # Each token has its own IV: the same number twice gives two different tokens.
    assert tokens[0] != tokens[6]
    ivs = [base64.urlsafe_b64decode(t)[9:25] for t in tokens if t]
    assert len(set(ivs)) == len(ivs)


def test_tokens_follow_the_primary_key_after_a_key_rotation(settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    pii._fernet.cache_clear()
    tokens = pii.encrypt_many(VALUES)
    assert [pii.decrypt(token) for token in tokens] == VALUES
    with pytest.raises(InvalidToken):  # not the old key's
        Fernet(old.encode()).decrypt(tokens[0].encode())
    pii._fernet.cache_clear()


def test_digests_are_pii_digests(settings):
    assert pii.digest_many(VALUES) == [pii.digest(value) for value in VALUES]
    assert pii.digest_many(VALUES)[1] == ""


@pytest.mark.django_db
def test_digests_during_a_digest_key_rotation_are_pii_digests(settings):
    settings.ID_DIGEST_KEY_PREVIOUS = settings.ID_DIGEST_KEY
    settings.ID_DIGEST_KEY = "a-new-digest-key-for-the-test-0123456789"
    assert pii.digest_many(VALUES) == [pii.digest(value) for value in VALUES]
