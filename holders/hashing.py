"""The door's secrets as stored: keyed hashes only (HMAC-SHA256 with the portal's secret key),
never the code, token or link themselves."""

import hashlib
import hmac
import secrets

from django.conf import settings

# Codes and verification codes without letters that are easily confused (0/O, 1/I/L).
STATEMENT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def secret_hash(purpose: str, value: str) -> str:
    """The stored form of a secret: keyed, and bound to its purpose (a code cannot pass for a
    token)."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def same_secret(purpose: str, value: str, stored: str) -> bool:
    return bool(stored) and hmac.compare_digest(secret_hash(purpose, value), stored)


def new_code(digits: int = 6) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_statement_code(length: int = 10) -> str:
    return "".join(secrets.choice(STATEMENT_ALPHABET) for _ in range(length))


def client_digest(address: str) -> str:
    """The client address as the throttle keeps it (not the address itself)."""
    return secret_hash("client", address or "unknown")
