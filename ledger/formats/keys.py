"""C2SP note keys: verifier keys, signer keys (the Go private-key form), key names and ids."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ledger.core.hashing import sha256
from ledger.errors import InputError, MalformedError
from ledger.formats.signing import PUBLIC_KEY_SIZE, Signer, is_prime_order_key
from ledger.formats.text import decode_base64, encode_base64

#: Signature types of C2SP signed-note: Ed25519 note signatures and cosignature/v1.
SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
KEY_HASH_SIZE = 4
MAX_KEY_STRING = 4096

PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"

_SUPPORTED_TYPES = (SIG_ED25519, SIG_COSIGNATURE_V1)
CONTROL_CHARACTERS = re.compile("[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-f]{8}")


def is_valid_key_name(name: str) -> bool:
    """C2SP signed-note key name: non-empty, no Unicode spaces, no ``+``, no control characters."""
    return (
        bool(name)
        and name.encode("utf-8", errors="replace").decode("utf-8") == name  # no lone surrogate
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not CONTROL_CHARACTERS.search(name)
    )


def note_key_hash(name: str, sig_type: int, public_key: bytes) -> bytes:
    """C2SP key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    return sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)[:KEY_HASH_SIZE]


# --- keys --------------------------------------------------------------------------------------


def _check_key_fields(name: str, key_hash: bytes, sig_type: int, public_key: bytes) -> None:
    if not is_valid_key_name(name):
        raise ValueError(f"invalid key name {name!r}")
    if sig_type not in _SUPPORTED_TYPES:
        raise ValueError(f"unsupported signature type 0x{sig_type:02x}")
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(public_key)}")
    if key_hash != note_key_hash(name, sig_type, public_key):
        raise ValueError(f"key hash {key_hash.hex()} does not match key {name!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierKey:
    """A C2SP verifier key: name, 4-byte key hash, type (0x01 or 0x04), Ed25519 public key."""

    name: str
    key_hash: bytes
    type: int
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_fields(self.name, self.key_hash, self.type, self.public_key)

    def __str__(self) -> str:
        return format_verifier_key(self)


def verifier_key_for(name: str, public_key: bytes, type: int = SIG_ED25519) -> VerifierKey:  # noqa: A002
    """The verifier key of ``public_key`` under ``name`` (key hash computed)."""
    return VerifierKey(
        name=name, key_hash=note_key_hash(name, type, public_key), type=type, public_key=public_key
    )


def format_verifier_key(key: VerifierKey) -> str:
    """``name+hex8+base64(type || public key)``."""
    material = encode_base64(bytes([key.type]) + key.public_key)
    return f"{key.name}+{key.key_hash.hex()}+{material}"


def _split_key_string(s: str, what: str) -> tuple[str, bytes, int, bytes]:
    """Split ``name+hex8+base64(type || key)`` strictly; raises InputError."""
    if len(s) > MAX_KEY_STRING:
        raise InputError(f"{what} is longer than {MAX_KEY_STRING} characters")
    parts = s.split("+", 2)
    if len(parts) != 3:
        raise InputError(f"{what} must be name+hex8+base64, got {len(parts)} '+'-separated parts")
    name, hex8, b64 = parts
    if not is_valid_key_name(name):
        raise InputError(f"{what} has an invalid key name {name[:80]!r}")
    if not _HEX8.fullmatch(hex8):
        raise InputError(f"{what} key hash must be 8 lower-case hex digits, got {hex8[:20]!r}")
    try:
        material = decode_base64(b64, what=f"{what} key material")
    except MalformedError as e:
        raise InputError(e.message) from e
    if len(material) != 1 + PUBLIC_KEY_SIZE or material[0] not in _SUPPORTED_TYPES:
        raise InputError(f"{what} is not an Ed25519 (0x01) or cosignature/v1 (0x04) key")
    return name, bytes.fromhex(hex8), material[0], material[1:]


def parse_verifier_key(s: str) -> VerifierKey:
    """Parse a verifier key string and check its key hash.

    Raises:
        InputError: not a verifier key string, unsupported type, or key hash mismatch.
    """
    name, key_hash, sig_type, public_key = _split_key_string(s.removesuffix("\n"), "verifier key")
    if key_hash != note_key_hash(name, sig_type, public_key):
        raise InputError(f"verifier key hash {key_hash.hex()} does not match the key")
    if not is_prime_order_key(public_key):
        raise InputError(
            f"verifier key {name[:80]!r} is not a point of prime order (a small-order, "
            "mixed-order or non-canonical key, for which signatures can be forged)"
        )
    return VerifierKey(name=name, key_hash=key_hash, type=sig_type, public_key=public_key)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteSigner:
    """A private note key: name, key hash, type (0x01 notes, 0x04 cosignatures) and signer."""

    name: str
    key_hash: bytes
    signer: Signer = field(repr=False)
    type: int = SIG_ED25519

    def __post_init__(self) -> None:
        _check_key_fields(self.name, self.key_hash, self.type, self.signer.public_key)

    @property
    def verifier_key(self) -> VerifierKey:
        """The matching verifier key."""
        return verifier_key_for(self.name, self.signer.public_key, self.type)


def note_signer_for(name: str, signer: Signer, type: int = SIG_ED25519) -> NoteSigner:  # noqa: A002
    """A note signer for ``signer`` under ``name`` (key hash computed)."""
    return NoteSigner(
        name=name, key_hash=note_key_hash(name, type, signer.public_key), signer=signer, type=type
    )


def as_cosigner(key: NoteSigner) -> NoteSigner:
    """The same Ed25519 key as a cosignature/v1 (type 0x04) signer, as witnesses use it."""
    return note_signer_for(key.name, key.signer, SIG_COSIGNATURE_V1)


def parse_signer_key(s: str) -> NoteSigner:
    """Parse the Go form ``PRIVATE+KEY+name+hex8+base64(type || seed)``.

    Raises:
        InputError: not a signer key string, or its key hash does not match.
    """
    s = s.removesuffix("\n")
    if not s.startswith(PRIVATE_KEY_PREFIX):
        raise InputError(f"a signer key starts with {PRIVATE_KEY_PREFIX!r}")
    name, key_hash, sig_type, seed = _split_key_string(s[len(PRIVATE_KEY_PREFIX) :], "signer key")
    signer = Signer(seed)
    if key_hash != note_key_hash(name, sig_type, signer.public_key):
        raise InputError(f"signer key hash {key_hash.hex()} does not match the key")
    return NoteSigner(name=name, key_hash=key_hash, signer=signer, type=sig_type)


def format_signer_key(key: NoteSigner) -> str:
    """``PRIVATE+KEY+name+hex8+base64(type || seed)``: keep it secret."""
    material = encode_base64(bytes([key.type]) + key.signer.seed)
    return f"{PRIVATE_KEY_PREFIX}{key.name}+{key.key_hash.hex()}+{material}"




