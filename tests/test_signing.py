"""Ed25519 in ledger.formats.signing: PyNaCl first, ``cryptography`` where it rejects, and the
answer is always ``cryptography``'s (docs/spec.md, "Verification": the same-answer test guards the
choice).

The cases: every golden signature (entries, checkpoint, cosignature), each with a bit flipped;
non-canonical S (S + L, S + 15L); the 8 small-order points as keys, canonical and in the 6
non-canonical encodings, with every one of those 14 encodings as R; small-order and
non-canonical R under a real key; mixed-order keys ([a]B + torsion). They are made by
`benchmarks/ed25519_same_answer.py`, the script that measured the choice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.ed25519_points import (
    encode_raw,
)
from benchmarks.ed25519_same_answer import (
    Case,
    golden_cases,
    golden_keys,
    mixed_order_cases,
    noncanonical_s_cases,
    small_order_key_cases,
    small_order_r_cases,
    tampered_cases,
)
from ledger.core.hashing import key_id
from ledger.errors import InputError, SignatureError
from ledger.formats.keys import format_verifier_key, parse_verifier_key, verifier_key_for
from ledger.formats.records import decode_entry_envelope
from ledger.formats.signing import (
    Signer,
    _openssl_accepts,
    _sodium_accepts,
    is_valid_signature,
    verify_signature,
)
from tests.conftest import GOLDEN_DIR


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
        signature = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b
                          for i, b in enumerate(signature))
    case = Case(group="random", name="random", public_key=signer.public_key, message=message,
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
    keys = golden_keys()
    records = json.loads((GOLDEN_DIR / "records.json").read_text(encoding="utf-8"))["records"]
    for item in records:
        entry = decode_entry_envelope(bytes.fromhex(item["entry_hex"]))
        verify_signature(keys[entry.key], bytes.fromhex(item["signed_message_hex"]), entry.sig)


@pytest.mark.parametrize("weak", [
    b"\x01" + bytes(31),  # the identity: a signature by it verifies on every message
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # y = p + 1
], ids=["identity", "order-2", "non-canonical"])
def test_a_small_order_verifier_key_read_from_a_file_is_refused(
    weak: bytes, tmp_path: Path,
) -> None:
    text = format_verifier_key(verifier_key_for("prezenta.example.ro/x", weak))
    with pytest.raises(InputError, match="prime order"):
        parse_verifier_key(text)
    pub = tmp_path / "weak.pub"
    pub.write_text(text + "\n", encoding="ascii")
    result = CliRunner().invoke(cli, ["verify", str(tmp_path), "--pub", str(pub)])
    assert result.exit_code == 2
    assert "prime order" in result.output
