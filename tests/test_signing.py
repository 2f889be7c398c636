"""Ed25519 in ledger.signing: PyNaCl first, ``cryptography`` where it rejects, and the answer is
always ``cryptography``'s (DESIGN.md section 7: the same-answer test guards the choice).

The cases: every golden signature (entries, checkpoint, cosignature), each with a bit flipped;
non-canonical S (S + L, S + 15L); the 8 small-order points as keys, canonical and in the 6
non-canonical encodings, with every one of those 14 encodings as R; small-order and
non-canonical R under a real key; mixed-order keys ([a]B + torsion).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.ed25519_points import (
    IDENTITY,
    L,
    P,
    add,
    base_point,
    challenge,
    clamp,
    encode,
    encode_raw,
    multiply,
    sign_with_key,
    small_order_points,
)
from ledger.errors import SignatureError
from ledger.hashing import entry_signed_message, key_id
from ledger.notes import parse_unverified_note
from ledger.records import decode_entry_envelope
from ledger.signing import (
    Signer,
    _openssl_accepts,
    _sodium_accepts,
    is_valid_signature,
    verify_signature,
)
from ledger.sources import PublishedDirSource
from tests.conftest import GOLDEN_DIR, load_json

MESSAGES = (b"same-answer test 0", b"same-answer test 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One (public key, message, signature) put to both libraries."""

    name: str
    public_key: bytes
    message: bytes
    signature: bytes


# --- the cases -----------------------------------------------------------------------------


def _golden_public_keys() -> dict[bytes, bytes]:
    keys: dict[bytes, bytes] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("public_key_hex"), str):
                public = bytes.fromhex(node["public_key_hex"])
                keys[key_id(public)] = public
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(load_json(GOLDEN_DIR / "keys.json"))
    return keys


def _golden_entries() -> Iterator[tuple[str, str, bytes]]:
    for item in load_json(GOLDEN_DIR / "records.json")["records"]:
        yield f"records.json {item['name']}", item["origin"], bytes.fromhex(item["entry_hex"])
    for folder in ("valid", "valid-small"):
        origin = load_json(GOLDEN_DIR / folder / "ledger.json")["origin"]
        with closing(PublishedDirSource(GOLDEN_DIR / folder)) as source:
            size = int(source.read_checkpoint().split(b"\n")[1])
            for index, data in enumerate(source.iter_entries(0, size)):
                yield f"{folder} entry {index}", origin, data


def _golden_note_cases() -> Iterator[Case]:
    keys = load_json(GOLDEN_DIR / "keys.json")
    note = parse_unverified_note((GOLDEN_DIR / "valid" / "checkpoint").read_bytes())
    text = note.text.encode()
    for sig in note.signatures:
        if sig.name == keys["publisher"]["name"]:
            yield Case(name="checkpoint signature", message=text, signature=sig.signature,
                       public_key=bytes.fromhex(keys["publisher"]["public_key_hex"]))
        elif sig.name == keys["witness"]["name"]:
            stamp = int.from_bytes(sig.signature[:8], "big")
            yield Case(name="cosignature", signature=sig.signature[8:],
                       message=b"cosignature/v1\ntime %d\n" % stamp + text,
                       public_key=bytes.fromhex(keys["witness"]["public_key_hex"]))


def golden_cases() -> list[Case]:
    keys = _golden_public_keys()
    cases = list(_golden_note_cases())
    for name, origin, data in _golden_entries():
        entry = decode_entry_envelope(data)
        if entry.key in keys:
            cases.append(Case(name=name, public_key=keys[entry.key], signature=entry.sig,
                              message=entry_signed_message(origin, entry.body)))
    return cases


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def tampered_cases(golden: list[Case]) -> list[Case]:
    return [
        Case(name=f"{c.name}, {what}", public_key=c.public_key,
             message=_flip(c.message, 7) if what == "message" else c.message,
             signature=c.signature if what == "message" else _flip(c.signature, bit))
        for c in golden[:40]
        for what, bit in (("R bit 0", 0), ("S bit 0", 256), ("message", 0))
    ]


def noncanonical_s_cases(golden: list[Case]) -> list[Case]:
    out = []
    for c in golden[:40]:
        s = int.from_bytes(c.signature[32:], "little")
        for times in (1, 15):
            if s + times * L < 2**256:
                bigger = (s + times * L).to_bytes(32, "little")
                out.append(Case(name=f"{c.name}, S + {times}L", public_key=c.public_key,
                                message=c.message, signature=c.signature[:32] + bigger))
    return out


def small_order_encodings() -> list[tuple[str, bytes]]:
    """The 8 points of order dividing 8, then the 6 non-canonical encodings that exist."""
    out = [(f"[{k}]T", encode(point)) for k, point in enumerate(small_order_points())]
    out += [
        ("identity, y = p + 1", encode_raw(P + 1, 0)),
        ("identity, y = p + 1, sign bit", encode_raw(P + 1, 1)),
        ("identity, x = -0", encode_raw(1, 1)),
        ("order 2, x = -0", encode_raw(P - 1, 1)),
        ("order 4, y = p", encode_raw(P, 0)),
        ("order 4, y = p, sign bit", encode_raw(P, 1)),
    ]
    return out


def small_order_key_cases() -> list[Case]:
    encodings = small_order_encodings()
    return [
        Case(name=f"A {a_name}, R {r_name}, message {m}", public_key=a, message=message,
             signature=r + bytes(32))
        for a_name, a in encodings
        for r_name, r in encodings
        for m, message in enumerate(MESSAGES)
    ]


def small_order_r_cases() -> list[Case]:
    scalar, _ = clamp(bytes(32))
    public = encode(multiply(scalar, base_point()))
    return [
        Case(name=f"real key, R {r_name}, message {m}", public_key=public, message=message,
             signature=r + (challenge(r, public, message) * scalar % L).to_bytes(32, "little"))
        for r_name, r in small_order_encodings()
        for m, message in enumerate(MESSAGES)
    ]


def mixed_order_cases() -> list[Case]:
    scalar, prefix = clamp(b"\x01" * 32)
    real = multiply(scalar, base_point())
    cases = []
    for k, torsion in enumerate(small_order_points()):
        if torsion == IDENTITY:
            continue
        public = encode(add(real, torsion))
        for m in range(16):
            message = b"mixed-order key %d" % m
            cases.append(Case(name=f"[a]B + [{k}]T, message {m}", public_key=public,
                              message=message,
                              signature=sign_with_key(scalar, prefix, public, message)))
    return cases


@pytest.fixture(scope="module")
def golden() -> list[Case]:
    return golden_cases()


@pytest.fixture(scope="module")
def edge_cases(golden: list[Case]) -> list[Case]:
    return [*tampered_cases(golden), *noncanonical_s_cases(golden), *small_order_key_cases(),
            *small_order_r_cases(), *mixed_order_cases()]


def _verdict(case: Case) -> bool:
    try:
        verify_signature(case.public_key, case.message, case.signature)
    except SignatureError:
        return False
    return True


def _differences(cases: list[Case]) -> list[str]:
    """Names of the cases where the ledger's answer is not cryptography's."""
    out = []
    for c in cases:
        expected = _openssl_accepts(c.public_key, c.message, c.signature)
        bool_form = is_valid_signature(c.public_key, c.message, c.signature)
        if _verdict(c) is not expected or bool_form is not expected:
            out.append(c.name)
    return out


# --- the same-answer test ------------------------------------------------------------------


def test_every_golden_signature_verifies(golden: list[Case]) -> None:
    assert len(golden) > 300
    assert all(_verdict(c) for c in golden)


def test_golden_signature_with_a_flipped_bit_is_refused(golden: list[Case]) -> None:
    cases = tampered_cases(golden)
    assert len(cases) == 120
    assert not any(_verdict(c) for c in cases)


def test_non_canonical_s_is_refused_as_cryptography_refuses_it(golden: list[Case]) -> None:
    cases = noncanonical_s_cases(golden)
    assert len(cases) >= 40
    assert not any(_verdict(c) for c in cases)
    assert not any(_openssl_accepts(c.public_key, c.message, c.signature) for c in cases)


def test_small_order_and_mixed_order_cases_get_cryptographys_answer(
    edge_cases: list[Case],
) -> None:
    assert len(edge_cases) > 700
    assert _differences(edge_cases) == []


def test_golden_cases_get_cryptographys_answer(golden: list[Case]) -> None:
    assert _differences(golden) == []


def test_the_cases_include_ones_libsodium_alone_would_refuse(edge_cases: list[Case]) -> None:
    """Without the fallback to cryptography these would be wrong: the test guards the choice."""
    only_openssl = [
        c for c in edge_cases
        if _openssl_accepts(c.public_key, c.message, c.signature)
        and not _sodium_accepts(c.public_key, c.message, c.signature)
    ]
    assert len(only_openssl) >= 20
    assert all(_verdict(c) for c in only_openssl)


def test_libsodium_never_accepts_what_cryptography_refuses(
    golden: list[Case], edge_cases: list[Case]
) -> None:
    """The hybrid relies on it: libsodium's yes is final."""
    assert not [
        c.name for c in [*golden, *edge_cases]
        if _sodium_accepts(c.public_key, c.message, c.signature)
        and not _openssl_accepts(c.public_key, c.message, c.signature)
    ]


@settings(max_examples=40, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=300),
       bit=st.integers(min_value=-1, max_value=511))
def test_random_signature_with_or_without_a_flipped_bit_gets_cryptographys_answer(
    seed: bytes, message: bytes, bit: int
) -> None:
    signer = Signer(seed)
    signature = signer.sign(message)
    if bit >= 0:
        signature = _flip(signature, bit)
    case = Case(name="random", public_key=signer.public_key, message=message,
                signature=signature)
    assert _differences([case]) == []
    assert _verdict(case) is (bit < 0)


# --- keys, lengths and the bool form ---------------------------------------------------------


def test_signer_signs_what_verify_signature_accepts() -> None:
    signer = Signer(bytes(range(32)))
    message = b"election-ledger"
    verify_signature(signer.public_key, message, signer.sign(message))
    assert signer.key_id == key_id(signer.public_key)
    assert Signer.generate().public_key != signer.public_key


def test_signer_refuses_a_seed_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Signer(bytes(31))


@pytest.mark.parametrize(("key_size", "sig_size"), [(31, 64), (33, 64), (32, 63), (32, 65)])
def test_wrong_lengths_are_a_signature_error(key_size: int, sig_size: int) -> None:
    with pytest.raises(SignatureError, match="bytes, expected"):
        verify_signature(bytes(key_size), b"m", bytes(sig_size))
    assert not is_valid_signature(bytes(key_size), b"m", bytes(sig_size))


def test_a_key_that_is_not_a_curve_point_is_a_signature_error() -> None:
    not_a_point = encode_raw(2, 0)  # y = 2 has no x on the curve
    with pytest.raises(SignatureError):
        verify_signature(not_a_point, b"m", bytes(64))
    assert not is_valid_signature(not_a_point, b"m", bytes(64))


def test_golden_records_json_lists_signed_messages_the_keys_verify() -> None:
    keys = _golden_public_keys()
    records = json.loads((GOLDEN_DIR / "records.json").read_text(encoding="utf-8"))["records"]
    for item in records:
        entry = decode_entry_envelope(bytes.fromhex(item["entry_hex"]))
        verify_signature(keys[entry.key], bytes.fromhex(item["signed_message_hex"]), entry.sig)
