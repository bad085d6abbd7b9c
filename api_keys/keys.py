"""The key format, modelled on GitHub's tokens: `vsk_live_` + 30 random base62 characters + their CRC32 in 6
base62 characters, 45 characters in all. A secret scanner can tell a real key from a typo offline (the checksum)
without asking us; the random part carries 30 × log2(62) ≈ 178 bits, so a plain SHA-256 is a safe way to store it.

Base62 alphabet: 0-9, A-Z, a-z (in that order); the checksum is CRC32 (zlib) of the random part's ASCII bytes,
written in base62 most significant digit first, left-padded with "0" to 6 characters.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

KEY_PREFIX = "vsk_live_"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
VISIBLE_RANDOM_CHARS = 8  # how much of the random part the stored prefix keeps (for display and leak reports)
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_PATTERN = re.compile(rf"{KEY_PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}")


def to_base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(random_part: str) -> str:
    return to_base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def new_key() -> str:
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return KEY_PREFIX + random_part + checksum(random_part)


def is_well_formed(key: str) -> bool:
    """The shape and the checksum: what a secret scanner checks, with no database."""
    if not KEY_PATTERN.fullmatch(key):
        return False
    random_part = key[len(KEY_PREFIX):-CHECKSUM_LENGTH]
    return secrets.compare_digest(key[-CHECKSUM_LENGTH:], checksum(random_part))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(key: str) -> str:
    if key.startswith(KEY_PREFIX):
        return key[:len(KEY_PREFIX) + VISIBLE_RANDOM_CHARS]
    return "legacy_" + key[:4]  # a migrated token: only 4 of its 40 hex characters are kept
