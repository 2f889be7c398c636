"""Ed25519 keys and signatures: the only module that imports ``cryptography`` or PyNaCl.

Verification accepts exactly what ``cryptography`` (OpenSSL, RFC 8032) accepts (docs/spec.md,
"Verification"), at libsodium's speed: PyNaCl is asked first, and only a signature it rejects is put
to ``cryptography``, whose answer then stands. libsodium checks the same cofactorless equation as
OpenSSL and refuses more (small-order keys and R, non-canonical keys), never less, so a
signature it accepts is one OpenSSL accepts; ``tests/test_signing.py`` guards that on the golden,
small-order, non-canonical and mixed-order cases. Failures raise
:class:`~ledger.errors.SignatureError`; nothing returns a bool but :func:`is_valid_signature`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.bindings import crypto_core_ed25519_is_valid_point, crypto_sign_open
from nacl.exceptions import CryptoError

from ledger.core.hashing import key_id
from ledger.errors import SignatureError

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


@dataclass(frozen=True, slots=True)
class Signer:
    """An Ed25519 private key, kept as its 32-byte seed (RFC 8032)."""

    seed: bytes = field(repr=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)
    public_key: bytes = field(init=False)

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_SIZE:
            raise ValueError(f"an Ed25519 seed is {SEED_SIZE} bytes, got {len(self.seed)}")
        key = Ed25519PrivateKey.from_private_bytes(self.seed)
        object.__setattr__(self, "_key", key)
        object.__setattr__(
            self, "public_key", key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        )

    @classmethod
    def generate(cls) -> Signer:
        """A new key from the operating system's random source."""
        return cls(os.urandom(SEED_SIZE))

    @property
    def key_id(self) -> bytes:
        """SHA-256 of the public key: the id entries carry (docs/records.md, "Entries")."""
        return key_id(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes) over ``message``; deterministic."""
        return self._key.sign(message)


def is_prime_order_key(public_key: bytes) -> bool:
    """True when ``public_key`` is the canonical encoding of a point of prime order
    (docs/records.md, "Identity and keys"): not one of the 8 small-order points, not a point
    with a small-order component, not a non-canonical encoding. libsodium's point check
    decides: it refuses exactly those."""
    return len(public_key) == PUBLIC_KEY_SIZE and bool(
        crypto_core_ed25519_is_valid_point(public_key)
    )


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature: accepted exactly when ``cryptography`` accepts it.

    Raises:
        SignatureError: the key or signature has the wrong length, the key is not a valid
            point, or the signature does not verify.
    """
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise SignatureError(f"public key is {len(public_key)} bytes, expected {PUBLIC_KEY_SIZE}")
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"signature is {len(signature)} bytes, expected {SIGNATURE_SIZE}")
    if _sodium_accepts(public_key, message, signature):
        return
    _openssl_verify(public_key, message, signature)


def is_valid_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Same check as :func:`verify_signature`, as a bool: for the parallel batch verifier only."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    return _sodium_accepts(public_key, message, signature) or _openssl_accepts(
        public_key, message, signature
    )


def _sodium_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """libsodium's verdict (``crypto_sign_open``); lengths are checked by the caller."""
    try:
        crypto_sign_open(signature + message, public_key)
    except CryptoError:
        return False
    return True


def _openssl_verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """``cryptography``'s check, the reference answer (docs/spec.md, "Verification")."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature as e:
        raise SignatureError("Ed25519 signature does not verify") from e
    except ValueError as e:
        raise SignatureError(f"invalid Ed25519 public key: {e}") from e


def _openssl_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """``cryptography``'s verdict alone (the same-answer test compares with it)."""
    try:
        _openssl_verify(public_key, message, signature)
    except SignatureError:
        return False
    return True
