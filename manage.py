#!/usr/bin/env python
"""Django's command-line utility for Satu Pintu."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registration_portal.settings.local")
    from django.core.management import execute_from_command_line

    _refuse_a_wrong_digest_key(sys.argv)
    execute_from_command_line(sys.argv)


def _refuse_a_wrong_digest_key(argv: list[str]) -> None:
    """Every command that touches data stops when ID_DIGEST_KEY is not the key the stored
    digests were made with (building static files or catalogues needs no key)."""
    name = argv[1] if len(argv) > 1 else "help"
    if name.startswith("-"):
        return
    from core.pii import KEYLESS_COMMANDS

    if name in KEYLESS_COMMANDS:
        return
    import django

    django.setup()
    from core.pii import DigestKeyMismatch, digest_key_check_for_command

    try:
        digest_key_check_for_command(argv)
    except DigestKeyMismatch as exc:
        sys.stderr.write(f"CommandError: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
