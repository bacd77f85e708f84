"""Every column holding a keyed digest of an ID or KK number (``core.pii.digest``, under
``ID_DIGEST_KEY``).

The digest-key rotation (``privacy.services.digest_rotation``) re-digests exactly these; a test
compares the lists with every digest field of every installed model, so a new digest column
cannot be forgotten (removing the previous key would make it find nothing).

- ``FROM_CIPHERTEXT``: a digest with the encrypted number beside it. The rotation decrypts the
  number, digests it under both keys and so learns the pair (old digest → new digest) of that
  number.
- ``MAPPED``: a digest with no number beside it (the operator's records and the population
  registry — mocks of external systems —, reconciliation's ID groups, the report flags, the
  requests). Each pair learnt above is applied to these in the same transaction, so every copy
  of a number moves from the old key to the new one at once.
- ``MAPPED_LISTS``: JSON lists of digests, mapped element by element.
"""

FROM_CIPHERTEXT: dict[str, tuple[tuple[str, str], ...]] = {
    "subscribers.Registration": (
        ("id_number_encrypted", "id_number_digest"),
        ("kk_number_encrypted", "kk_number_digest"),
        ("guardian_id_number_encrypted", "guardian_id_number_digest"),
    ),
    "outlets.OutletStaff": (
        ("id_number_encrypted", "id_number_digest"),
        ("kk_number_encrypted", "kk_number_digest"),
    ),
    "outlets.DealerAdmin": (
        ("id_number_encrypted", "id_number_digest"),
        ("kk_number_encrypted", "kk_number_digest"),
    ),
    "outlets.Outlet": (
        ("owner_id_number_encrypted", "owner_id_number_digest"),
        ("owner_kk_number_encrypted", "owner_kk_number_digest"),
    ),
    "outlets.OutletApplication": (
        ("owner_id_number_encrypted", "owner_id_number_digest"),
        ("owner_kk_number_encrypted", "owner_kk_number_digest"),
    ),
    "compliance.RegistrationVersion": (
        ("id_number_encrypted", "id_number_digest"),
        ("kk_number_encrypted", "kk_number_digest"),
    ),
}

# The erasure ledger: its digest list is rebuilt from the encrypted number it keeps (the person
# is erased everywhere else, so no other row teaches the rotation their pair).
LEDGER = ("privacy.ErasureLedger", "id_number_encrypted", "digests")

MAPPED: dict[str, tuple[str, ...]] = {
    "operatordb.OperatorSubscriber": ("id_number_digest",),
    "operatordb.PopulationRecord": ("nik_digest", "kk_digest"),
    "compliance.Discrepancy": ("id_digest",),
    "reports.FlaggedIdRegistration": ("id_digest",),
    "privacy.DataSubjectRequest": ("id_number_digest",),
    # The holder's door: who opened a session, disputed a number or chose numbers to keep.
    "holders.HolderSession": ("nik_digest",),
    "holders.HolderDispute": ("nik_digest",),
    "holders.HolderKeepChoice": ("nik_digest",),
    # The risk signals: which NIK or KK made a per-number signal hold (risk/models.py).
    "risk.RegistrationSignal": ("digest",),
}

MAPPED_LISTS: dict[str, tuple[str, ...]] = {
    "privacy.DataSubjectRequest": ("id_number_digests",),
    "privacy.ErasureLedger": ("digests",),
}

# How far each pair learnt in a chunk reaches *at once* in a column of a big table: only where an
# index finds the rows (a condition matching a partial index), or — None — only the chunk's own
# rows; the rest of such a column is moved by the rotation's final sweep (one pass per column).
# Every column not named here is moved everywhere at once (indexed, or a small table).
CHUNK_SCOPE: dict[tuple[str, str], str | None] = {
    # On the largest table, compared with no other row: moved with their own row. (The
    # guardian's digest has a partial index, for a head of family's subject request, which
    # reads both keys' digests during a rotation.)
    ("subscribers.Registration", "kk_number_digest"): None,
    ("subscribers.Registration", "guardian_id_number_digest"): None,
    # The active numbers, which the per-ID check and the ID-mismatch join read (partial index
    # opsub_active_digest_idx); inactive records are moved by the sweep.
    ("operatordb.OperatorSubscriber", "id_number_digest"): (
        "status = 'active' AND id_number_digest <> ''"
    ),
    # The open ID groups reconciliation resolves (partial index disc_open_idgroup_idx).
    ("compliance.Discrepancy", "id_digest"): "status = 'open' AND kind = 'id_over_limit'",
}

# Audit rows: the trail records ID numbers masked, never as digests, with one exception — the
# holder's door's throttle row keeps the first 12 characters of the NIK's digest (so an
# investigation can find the attempts on one NIK without the trail naming it). Each entry:
# (target type, action, key of ``after``) → how many leading characters of the digest it keeps.
# The rotation rewrites them at its end, through the pairs it learnt, in the same transaction
# that retires the old key; a test proves every other audit value holds no digest.
AUDIT_DIGEST_PREFIXES: dict[tuple[str, str, str], int] = {
    ("holders.holdersession", "holder.throttled", "nik_digest"): 12,
}

# Digest fields that are not of an ID number (an API token's hash): not the digest key's.
# The holder's door's throttle keys (a login number, a client address): counted over minutes,
# so a rotation only restarts the count.
NOT_ID_DIGESTS = {
    ("accounts.ApiToken", "digest"),
    ("holders.HolderSession", "msisdn_digest"),
    ("holders.HolderSession", "client_digest"),
}


def all_digest_columns() -> list[tuple[str, str]]:
    """(model label, column) of every single-valued digest column."""
    columns = [(label, d) for label, pairs in FROM_CIPHERTEXT.items() for _e, d in pairs]
    columns += [(label, c) for label, names in MAPPED.items() for c in names]
    return columns
