"""Every column holding a ciphertext under ``FIELD_ENCRYPTION_KEYS`` (``core.pii``).

Key rotation re-encrypts exactly these; a test compares the list with every ``*_encrypted``
field of every installed model, so a new encrypted column cannot be forgotten (removing an old
key would make it unreadable).
"""

ENCRYPTED_FIELDS: dict[str, tuple[str, ...]] = {
    "subscribers.Registration": (
        "id_number_encrypted",
        "kk_number_encrypted",
        "guardian_id_number_encrypted",
    ),
    "outlets.OutletStaff": ("id_number_encrypted", "kk_number_encrypted"),
    # The end-user-only rule's people: dealer admins and outlet owners (docs/rules.md).
    "outlets.DealerAdmin": ("id_number_encrypted", "kk_number_encrypted"),
    "outlets.Outlet": ("owner_id_number_encrypted", "owner_kk_number_encrypted"),
    "outlets.OutletApplication": ("owner_id_number_encrypted", "owner_kk_number_encrypted"),
    # The compliance workflow: a correction proposed by an outlet, and the values an accepted
    # correction replaced.
    "compliance.ClarificationAnswer": (
        "correction_id_number_encrypted",
        "correction_kk_number_encrypted",
    ),
    "compliance.RegistrationVersion": ("id_number_encrypted", "kk_number_encrypted"),
    # The holder's door: an SMS waiting to be sent (it may carry a code; cleared once sent).
    "holders.SmsMessage": ("body_encrypted",),
    # An erased person's number, kept with the erasure ledger entry while a backup could bring
    # them back (privacy.services.ledger).
    "privacy.ErasureLedger": ("id_number_encrypted",),
}
