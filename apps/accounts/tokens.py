"""API keys: how a key is made, hashed and recognised (no database access here)."""
from __future__ import annotations

import hashlib
import secrets

KEY_MARK = "assbdb_"  # makes a leaked key recognisable to secret scanners
PREFIX_LENGTH = 12


def new_key() -> str:
    """A fresh key: the mark and 40 URL-safe random characters (240 bits)."""
    return KEY_MARK + secrets.token_urlsafe(30)


def key_hash(key: str) -> str:
    """SHA-256 of the key, hex; a key of 240 random bits needs no salt or slow hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]
