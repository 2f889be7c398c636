"""Do ``cryptography`` (OpenSSL) and PyNaCl (libsodium) give the same Ed25519 answers?

docs/spec.md, "Verification": another library may replace ``cryptography`` for verification only if
it gives the same answer on the golden vectors and on small-order and non-canonical keys and
signatures. This runs both over:

- golden: every entry signature of the golden vectors (records.json, valid/, valid-small/) and
  the checkpoint and cosignature of valid/, plus each with a bit flipped in R, S or the message;
- non-canonical S: golden signatures with S + L and S + 15L (same scalar mod L, S >= L);
- small-order keys: the 8 points of order dividing 8, canonically encoded and in the 6
  non-canonical encodings that exist (y + p for y < 19; x = 0 with the sign bit set), each with
  S = 0 and R every one of those 14 encodings, over two messages;
- small-order or non-canonical R with a real key: R the identity (any encoding), S = k*a;
- mixed-order keys: [a]B plus a point of order 2, 4 or 8, signed with a (valid exactly when the
  torsion part vanishes in [k]A, which a cofactorless verifier decides by k mod 8).

It also reports a hybrid: PyNaCl first and ``cryptography`` only for what PyNaCl rejects (the
fast path for valid signatures, keeping cryptography's answers if libsodium never accepts what
OpenSSL rejects). ``python -m benchmarks.ed25519_same_answer [--json FILE]``; exit 0 when every
answer is the same, 1 when any differs, 2 when PyNaCl is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from ledger.core.hashing import entry_signed_message, key_id
from ledger.formats.notes import parse_unverified_note
from ledger.formats.records import decode_entry
from ledger.sources.published import PublishedDirSource

_HERE = Path(__file__).resolve().parent
_SHARED = _HERE.parent.parent / "shared" / "vectors"
VECTORS = _SHARED if _SHARED.is_dir() else _HERE.parent / "tests" / "vectors"
GOLDEN = VECTORS / "election-ledger-v1"
MESSAGES = (b"election-ledger same-answer test 0", b"election-ledger same-answer test 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One (public key, message, signature) to put to both libraries."""

    group: str
    name: str
    public_key: bytes
    message: bytes
    signature: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """Both libraries' verdicts on a case."""

    case: Case
    cryptography: bool
    pynacl: bool

    @property
    def same(self) -> bool:
        """True when both accept or both reject."""
        return self.cryptography == self.pynacl

    @property
    def hybrid(self) -> bool:
        """PyNaCl first, ``cryptography`` only where PyNaCl rejects: a fast path that keeps
        cryptography's answers as long as libsodium never accepts what OpenSSL rejects."""
        return self.pynacl or self.cryptography


# --- the cases -----------------------------------------------------------------------------


def golden_keys() -> dict[bytes, bytes]:
    """Key id -> public key of every key in keys.json."""
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

    walk(json.loads((GOLDEN / "keys.json").read_text(encoding="utf-8")))
    return keys


def _golden_entries() -> Iterator[tuple[str, str, bytes]]:
    """(name, origin, entry bytes) of every golden entry."""
    records = json.loads((GOLDEN / "records.json").read_text(encoding="utf-8"))
    for item in records["records"]:
        yield f"records.json {item['name']}", item["origin"], bytes.fromhex(item["entry_hex"])
    for folder in ("valid", "valid-small"):
        info = json.loads((GOLDEN / folder / "ledger.json").read_text(encoding="utf-8"))
        with closing(PublishedDirSource(GOLDEN / folder)) as source:
            size = int(source.read_checkpoint().split(b"\n")[1])
            for index, data in enumerate(source.iter_entries(0, size)):
                yield f"{folder} entry {index}", info["origin"], data


def _note_cases() -> Iterator[Case]:
    """The publisher's checkpoint signature and the witness cosignature of valid/."""
    keys = json.loads((GOLDEN / "keys.json").read_text(encoding="utf-8"))
    note = parse_unverified_note((GOLDEN / "valid" / "checkpoint").read_bytes())
    text = note.text.encode()
    publisher = bytes.fromhex(keys["publisher"]["public_key_hex"])
    witness = bytes.fromhex(keys["witness"]["public_key_hex"])
    for sig in note.signatures:
        if sig.name == keys["publisher"]["name"]:
            yield Case(group="golden", name="valid/checkpoint publisher signature",
                       public_key=publisher, message=text, signature=sig.signature)
        elif sig.name == keys["witness"]["name"] and len(sig.signature) == 72:
            stamp = int.from_bytes(sig.signature[:8], "big")
            message = b"cosignature/v1\ntime %d\n" % stamp + text
            yield Case(group="golden", name="valid/checkpoint witness cosignature",
                       public_key=witness, message=message, signature=sig.signature[8:])


def golden_cases() -> list[Case]:
    """Every golden signature, as signed."""
    keys = golden_keys()
    cases = list(_note_cases())
    for name, origin, data in _golden_entries():
        entry = decode_entry(data)
        public = keys.get(entry.key)
        if public is not None:
            cases.append(Case(group="golden", name=name, public_key=public,
                              message=entry_signed_message(origin, entry.body),
                              signature=entry.sig))
    return cases


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def tampered_cases(golden: list[Case]) -> list[Case]:
    """Golden signatures with one bit flipped in R, in S, or in the message."""
    out = []
    for c in golden[:40]:
        out += [
            Case(group="golden tampered", name=f"{c.name}: R bit 0", public_key=c.public_key,
                 message=c.message, signature=_flip(c.signature, 0)),
            Case(group="golden tampered", name=f"{c.name}: S bit 0", public_key=c.public_key,
                 message=c.message, signature=_flip(c.signature, 256)),
            Case(group="golden tampered", name=f"{c.name}: message bit", public_key=c.public_key,
                 message=_flip(c.message, 8 * len(c.message) - 1), signature=c.signature),
        ]
    return out


def noncanonical_s_cases(golden: list[Case]) -> list[Case]:
    """S + L and S + 15L (the same scalar mod L, but S >= L): RFC 8032 says reject."""
    out = []
    for c in golden[:40]:
        s = int.from_bytes(c.signature[32:], "little")
        for times in (1, 15):
            bigger = s + times * L
            if bigger < 2**256:
                out.append(Case(group="non-canonical S", name=f"{c.name}: S + {times}L",
                                public_key=c.public_key, message=c.message,
                                signature=c.signature[:32] + bigger.to_bytes(32, "little")))
    return out


def small_order_encodings() -> list[tuple[str, bytes]]:
    """(label, encoding) of the 8 small-order points and their 6 non-canonical encodings."""
    out = [(f"[{k}]T", encode(point)) for k, point in enumerate(small_order_points())]
    out += [
        ("identity, y = p + 1", encode_raw(P + 1, 0)),
        ("identity, y = p + 1, sign bit", encode_raw(P + 1, 1)),
        ("identity, sign bit (x = -0)", encode_raw(1, 1)),
        ("order 2, sign bit (x = -0)", encode_raw(P - 1, 1)),
        ("order 4, y = p", encode_raw(P, 0)),
        ("order 4, y = p, sign bit", encode_raw(P, 1)),
    ]
    return out


def small_order_key_cases() -> list[Case]:
    """Each small-order key encoding with S = 0 and every small-order R encoding."""
    encodings = small_order_encodings()
    return [
        Case(group="small-order key", name=f"A {a_name}; R {r_name}; message {m}",
             public_key=a, message=message, signature=r + bytes(32))
        for a_name, a in encodings
        for r_name, r in encodings
        for m, message in enumerate(MESSAGES)
    ]


def small_order_r_cases() -> list[Case]:
    """A real key; R a small-order encoding; S = k*a, right exactly when R is the identity."""
    seed = bytes(32)
    scalar, _ = clamp(seed)
    public = encode(multiply(scalar, base_point()))
    cases = []
    for r_name, r in small_order_encodings():
        for m, message in enumerate(MESSAGES):
            s = challenge(r, public, message) * scalar % L
            cases.append(Case(group="small-order or non-canonical R, real key",
                              name=f"R {r_name}; message {m}", public_key=public,
                              message=message, signature=r + s.to_bytes(32, "little")))
    return cases


def mixed_order_cases() -> list[Case]:
    """[a]B + T for T of order 2, 4 and 8, signed with a, over 16 messages each."""
    scalar, prefix = clamp(b"\x01" * 32)
    real = multiply(scalar, base_point())
    cases = []
    for k, torsion in enumerate(small_order_points()):
        if torsion == IDENTITY:
            continue
        public = encode(add(real, torsion))
        for m in range(16):
            message = b"mixed-order key test %d" % m
            cases.append(Case(group="mixed-order key", name=f"[a]B + [{k}]T; message {m}",
                              public_key=public, message=message,
                              signature=sign_with_key(scalar, prefix, public, message)))
    return cases


def all_cases() -> list[Case]:
    """Every case, by group."""
    golden = golden_cases()
    return [*golden, *tampered_cases(golden), *noncanonical_s_cases(golden),
            *small_order_key_cases(), *small_order_r_cases(), *mixed_order_cases()]


# --- asking both libraries -----------------------------------------------------------------


def pynacl_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """libsodium's ``crypto_sign_open`` verdict."""
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import CryptoError

    try:
        crypto_sign_open(signature + message, public_key)
    except CryptoError:
        return False
    return True


def cryptography_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """OpenSSL's verdict through ``cryptography`` alone (the reference answer, docs/spec.md,
    "Verification")."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def answers(cases: list[Case]) -> list[Answer]:
    """Both verdicts on every case, each library asked directly."""
    return [
        Answer(case=c, cryptography=cryptography_accepts(c.public_key, c.message, c.signature),
               pynacl=pynacl_accepts(c.public_key, c.message, c.signature))
        for c in cases
    ]


def summary(results: list[Answer]) -> dict[str, Any]:
    """Per group: cases, both accept, both reject, and the cases where they differ."""
    groups: dict[str, dict[str, Any]] = {}
    for a in results:
        g = groups.setdefault(a.case.group, {"cases": 0, "both_accept": 0, "both_reject": 0,
                                             "only_cryptography": 0, "only_pynacl": 0})
        g["cases"] += 1
        key = ("both_accept" if a.cryptography else "both_reject") if a.same else (
            "only_cryptography" if a.cryptography else "only_pynacl")
        g[key] += 1
    differ = [
        {"group": a.case.group, "name": a.case.name, "public_key": a.case.public_key.hex(),
         "signature": a.case.signature.hex(), "cryptography": a.cryptography,
         "pynacl": a.pynacl}
        for a in results if not a.same
    ]
    hybrid_differ = sum(1 for a in results if a.hybrid != a.cryptography)
    return {"cases": len(results), "same": len(results) - len(differ), "groups": groups,
            "differ": differ, "hybrid_differs_from_cryptography": hybrid_differ}


def main(argv: list[str] | None = None) -> int:
    """Run every case, print the summary; exit 0 same answers, 1 differences, 2 no PyNaCl."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ed25519_same_answer")
    parser.add_argument("--json", type=Path, help="also write the full result here")
    args = parser.parse_args(argv)
    try:
        import nacl.bindings  # noqa: F401
    except ImportError:
        print("PyNaCl is not installed: nothing to compare", file=sys.stderr)
        return 2
    result = summary(answers(all_cases()))
    print(f"{'group':44} {'cases':>6} {'both ok':>8} {'both no':>8} {'only crypto':>12} "
          f"{'only nacl':>10}")
    for name, g in result["groups"].items():
        print(f"{name:44} {g['cases']:6} {g['both_accept']:8} {g['both_reject']:8} "
              f"{g['only_cryptography']:12} {g['only_pynacl']:10}")
    for d in result["differ"][:30]:
        verdict = "cryptography accepts, PyNaCl rejects" if d["cryptography"] else \
            "PyNaCl accepts, cryptography rejects"
        print(f"  differ: {d['group']}: {d['name']}: {verdict}")
    if len(result["differ"]) > 30:
        print(f"  ... and {len(result['differ']) - 30} more")
    same = not result["differ"]
    print(f"{'SAME' if same else 'DIFFERENT'}: {result['same']} of {result['cases']} answers agree")
    print(f"PyNaCl first, cryptography where PyNaCl rejects: "
          f"{result['cases'] - result['hybrid_differs_from_cryptography']} of {result['cases']} "
          "answers equal cryptography's")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
