"""C2SP signed notes, keys, checkpoints and cosignatures against the public vectors and ours."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.hashing import leaf_hash
from ledger.core.merkle import root as merkle_root
from ledger.core.proofs import verify_consistency
from ledger.errors import InputError, MalformedError, SignatureError, VerificationError
from ledger.formats.checkpoints import (
    Checkpoint,
    check_ledger_checkpoint,
    check_origin,
    format_checkpoint,
    open_checkpoint,
    open_ledger_checkpoint,
    parse_checkpoint,
)
from ledger.formats.keys import (
    SIG_COSIGNATURE_V1,
    as_cosigner,
    format_signer_key,
    format_verifier_key,
    note_signer_for,
    parse_signer_key,
    parse_verifier_key,
    verifier_key_for,
)
from ledger.formats.notes import (
    NoteSignature,
    cosign,
    cosignature_message,
    format_note,
    open_note,
    parse_signature_line,
    parse_unverified_note,
    sign_note,
    verify_cosignature,
)
from ledger.formats.signing import Signer
from tests.conftest import GOLDEN_DIR, load_json, run_doc_examples

KEYS = load_json(GOLDEN_DIR / "keys.json")
PUBLISHER = parse_verifier_key(KEYS["publisher"]["vkey"])
WITNESS = parse_verifier_key(KEYS["witness"]["vkey"])
GOLDEN_CHECKPOINT = (GOLDEN_DIR / "valid" / "checkpoint").read_bytes()
SEED = bytes(range(32))


def _case(vectors: dict[str, Any], block: str, case_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in vectors[block] if c["id"] == case_id)
    return found


# --- signed_note vectors ---------------------------------------------------------------------


def test_resigning_go_note_from_seed_reproduces_it_byte_for_byte(spec_vectors):
    case = _case(spec_vectors, "signed_note", "go-sumdb-note-peterneumann")
    signer = parse_signer_key(case["signer_key"])
    assert signer.signer.seed.hex() == case["ed25519_seed_hex"]
    assert signer.key_hash.hex() == case["key_id_hex"]
    assert format_verifier_key(signer.verifier_key) == case["vkey"]
    assert format_signer_key(signer) == case["signer_key"]
    assert sign_note(case["text"], [signer]) == case["signed_note"].encode()
    note = open_note(case["signed_note"].encode(), [parse_verifier_key(case["vkey"])])
    assert note.text == case["text"]
    assert note.verified_by == ("PeterNeumann",)


def test_two_signer_note_opens_with_one_known_key_and_ignores_the_other(spec_vectors):
    case = _case(spec_vectors, "signed_note", "go-sumdb-note-peter-plus-enoch")
    peter, enoch = (parse_verifier_key(v) for v in case["vkeys"])
    enoch_seed = bytes.fromhex(case["enoch_ed25519_seed_hex"])
    enoch_signer = note_signer_for("EnochRoot", Signer(enoch_seed))
    assert enoch_signer.verifier_key == enoch
    peter_signer = parse_signer_key(
        _case(spec_vectors, "signed_note", "go-sumdb-note-peterneumann")["signer_key"]
    )
    data = case["signed_note"].encode()
    assert sign_note(case["text"], [peter_signer, enoch_signer]) == data
    assert open_note(data, [peter]).verified_by == ("PeterNeumann",)
    assert open_note(data, [enoch, peter]).verified_by == ("PeterNeumann", "EnochRoot")
    assert len(open_note(data, [peter]).signatures) == 2
    with pytest.raises(SignatureError, match="no signature from a known key"):
        open_note(data, [])


def test_malformed_go_notes_are_rejected(spec_vectors):
    case = _case(spec_vectors, "signed_note", "go-sumdb-note-malformed")
    key = parse_verifier_key(case["vkey"])
    for bad in case["malformed_notes"]:
        with pytest.raises(MalformedError):
            open_note(bad["note"].encode(), [key])


def test_note_with_a_forged_signature_of_a_known_key_is_rejected(spec_vectors):
    case = _case(spec_vectors, "signed_note", "go-sumdb-note-malformed")
    with pytest.raises(SignatureError, match=re.escape(case["invalid_signature_expected_error"])):
        open_note(case["invalid_signature_note"].encode(), [parse_verifier_key(case["vkey"])])


def test_c2sp_example_note_verifies(spec_vectors):
    case = _case(spec_vectors, "signed_note", "c2sp-signed-note-example")
    key = parse_verifier_key(case["vkey"])
    assert key.public_key.hex() == case["public_key_hex"]
    assert open_note(case["signed_note"].encode(), [key]).text == case["text"]


def test_note_text_is_separated_by_the_last_blank_line(spec_vectors):
    case = _case(spec_vectors, "signed_note", "c2sp-signed-note-intro-quasimodo")
    note = parse_unverified_note(case["signed_note"].encode())
    assert note.text.endswith("\n\ned è subito sera.\n")
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]


# --- vkeys -------------------------------------------------------------------------------------


def test_every_vkey_parses_to_its_name_type_key_and_key_id(spec_vectors):
    for case in spec_vectors["vkeys"]["keys"]:
        key = parse_verifier_key(case["vkey"])
        assert key.name == case["name"]
        assert key.key_hash.hex() == case["key_id_hex"]
        assert key.type == case["signature_type"]
        assert key.public_key.hex() == case["public_key_hex"]
        assert format_verifier_key(key) == case["vkey"] == str(key)
        assert verifier_key_for(key.name, key.public_key, key.type) == key


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # hash mismatch
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case hex
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX",  # non-canonical
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # bad base64
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space in name
        "PeterNeumann+c74f20a3",
        "",
        "x" * 5000,
    ],
)
def test_malformed_verifier_key_strings_are_refused_as_input_errors(bad):
    with pytest.raises(InputError):
        parse_verifier_key(bad)


def test_unsupported_key_type_is_refused():
    public_key = Signer(SEED).public_key
    key_hash = hashlib.sha256(b"k\n\x05" + public_key).digest()[:4]
    material = base64.b64encode(b"\x05" + public_key).decode()
    text = f"k+{key_hash.hex()}+{material}"
    with pytest.raises(InputError, match="not an Ed25519"):
        parse_verifier_key(text)


def test_signer_key_with_a_wrong_hash_or_prefix_is_refused():
    good = format_signer_key(note_signer_for("a.example/b", Signer(SEED)))
    assert parse_signer_key(good + "\n").signer.seed == SEED
    with pytest.raises(InputError):
        parse_signer_key(good.replace("PRIVATE+KEY+", "PRIVATE+KEX+"))
    name, key_hash, material = good[len("PRIVATE+KEY+") :].split("+")
    wrong = f"PRIVATE+KEY+{name}+{int(key_hash, 16) ^ 1:08x}+{material}"
    with pytest.raises(InputError, match="does not match"):
        parse_signer_key(wrong)


# --- checkpoints ---------------------------------------------------------------------------------


def test_tessera_checkpoints_verify_and_their_roots_are_recomputed_from_the_entries(spec_vectors):
    case = _case(spec_vectors, "checkpoint", "tessera-testdata-log")
    key = parse_verifier_key(case["vkey"])
    signer = parse_signer_key(case["signer_key"])
    assert signer.verifier_key == key
    leaves = [leaf_hash(e.encode()) for e in case["entries_utf8"]]
    assert len(case["checkpoints"]) == 16
    for want in case["checkpoints"]:
        data = want["checkpoint"].encode()
        cp = open_checkpoint(data, [key]).checkpoint
        assert cp.size == want["tree_size"]
        assert cp.root.hex() == want["root_hex"]
        assert merkle_root(leaves[: cp.size]) == cp.root
        assert sign_note(format_checkpoint(cp), [signer]) == data


def test_c2sp_example_checkpoint_parses(spec_vectors):
    case = _case(spec_vectors, "checkpoint", "c2sp-tlog-checkpoint-example")
    cp = parse_checkpoint(parse_unverified_note(case["checkpoint"].encode()).text)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())


def test_checkpoint_bodies_parse_or_are_refused_as_the_formats_tests_say(spec_vectors):
    for case in _case(spec_vectors, "checkpoint", "formats-checkpoint-body-parse")["cases"]:
        if not case["ok"]:
            with pytest.raises(MalformedError) as info:
                parse_checkpoint(case["body"])
            assert info.value.category == "checkpoint"
            continue
        cp = parse_checkpoint(case["body"])
        assert format_checkpoint(cp) == case["body"]
        if "origin" in case:
            assert (cp.origin, cp.size) == (case["origin"], case["size"])
            assert cp.root == case["hash_utf8"].encode()
        if "extension_rest" in case:
            assert "".join(e + "\n" for e in cp.extensions) == case["extension_rest"]
            with pytest.raises(MalformedError, match="extension"):
                check_ledger_checkpoint(replace(cp, origin="log.example/x"))


def test_go_sumdb_tree_head_parses_but_breaks_our_origin_grammar(spec_vectors):
    case = _case(spec_vectors, "checkpoint", "go-sumdb-tree-note-body")
    cp = parse_checkpoint(case["body"])
    assert (cp.origin, cp.size, cp.root.hex()) == (case["origin"], case["size"], case["root_hex"])
    with pytest.raises(MalformedError) as info:
        check_ledger_checkpoint(cp)
    assert info.value.category == "origin"


def test_sigsum_tree_head_verifies_with_its_derived_vkey(spec_vectors):
    case = _case(spec_vectors, "checkpoint", "sigsum-signed-tree-head")
    key = verifier_key_for(case["origin"], bytes.fromhex(case["public_key_hex"]))
    assert format_verifier_key(key) == case["derived_vkey"]
    cp = open_checkpoint(case["derived_signed_checkpoint"].encode(), [key]).checkpoint
    assert (cp.size, cp.root.hex()) == (case["tree_size"], case["root_hex"])
    assert format_checkpoint(cp) == case["checkpoint_body"]


@pytest.mark.parametrize(
    "body",
    [
        "Log\n0123\nYmFuYW5hcw==\n",  # leading zero
        "Log\n+1\nYmFuYW5hcw==\n",
        "Log\n\u0661\nYmFuYW5hcw==\n",  # Arabic-Indic digit one
        "Log\n18446744073709551616\nYmFuYW5hcw==\n",  # 2**64
        "Log\n1\nYmFuYW5hcx==\n",  # non-canonical padding bits
        "Log\n1\nYmFuYW5hcw\n",  # no padding
        "Log\n1\n\n",
        "Log\n1\nYmFuYW5hcw==\n\n",  # empty extension line
        "Log\n1\n" + "A" * 88 + "\n",  # 66-byte root
    ],
)
def test_non_canonical_checkpoint_bodies_are_refused(body):
    with pytest.raises(MalformedError):
        parse_checkpoint(body)


def test_largest_tree_size_parses():
    assert parse_checkpoint("Log\n18446744073709551615\nYmFuYW5hcw==\n").size == 2**64 - 1


@pytest.mark.parametrize(
    "origin",
    [
        "prezenta.example.ro/prezidentiale18052025",
        "localhost/a",
        "a-b.c/x_y/z.1-2",
        "h/" + "a" * 200,
    ],
)
def test_origins_of_the_election_grammar_pass(origin):
    check_origin(origin)


@pytest.mark.parametrize(
    "origin",
    [
        "prezenta.example.ro",  # no election id
        "prezenta.example.ro/prezidentiale:2025",
        "prezenta.example.ro/a b",
        "prezenta.example.ro/a+b",
        "prezenta.example.ro/",
        "prezenta.example.ro/a//b",
        "-bad.example/a",
        "bad..example/a",
        "/a",
        "h/" + "a" * 300,
        "exemplu.ro/alegeri\u0219",
    ],
)
def test_origins_outside_the_election_grammar_are_refused(origin):
    with pytest.raises(MalformedError) as info:
        check_origin(origin)
    assert info.value.category == "origin"


# --- cosignatures ------------------------------------------------------------------------------


def test_sunlight_cosignatures_verify(spec_vectors):
    for case in spec_vectors["cosignature"][:3]:
        key = parse_verifier_key(case["vkey"])
        data = case["cosigned_checkpoint"].encode()
        signed = open_checkpoint(data, [key])
        assert signed.note.verified_by == (key.name,)
        line = next(s for s in signed.note.signatures if s.name == key.name)
        assert verify_cosignature(signed.note.text, line, key) == 1767139200
        assert verify_cosignature(signed.note.text, line.line().encode(), key) == 1767139200
        if "signed_message" in case:
            want = case["signed_message"].encode()
            assert cosignature_message(signed.note.text, 1767139200) == want


def test_c2sp_cosignature_example_parses(spec_vectors):
    case = _case(spec_vectors, "cosignature", "c2sp-tlog-cosignature-example")
    note = parse_unverified_note(case["cosigned_checkpoint"].encode())
    witness = note.signatures[1]
    want = case["parsed_witness_sig"]
    assert witness.key_hash.hex() == want["key_id_hex"]
    assert int.from_bytes(witness.signature[:8], "big") == want["timestamp"]
    assert len(witness.signature) - 8 == want["sig_len"]
    assert cosignature_message(note.text, want["timestamp"]) == case[
        "spec_signed_message_example"
    ].encode()


def test_cosign_round_trip_and_wrong_witness_is_refused():
    witness = as_cosigner(note_signer_for("witness.example/w", Signer(SEED)))
    other = verifier_key_for("witness.example/w2", Signer(bytes(32)).public_key, SIG_COSIGNATURE_V1)
    text = format_checkpoint(Checkpoint(origin="log.example/x", size=3, root=bytes(32)))
    line = cosign(text, witness, 1_700_000_000)
    assert verify_cosignature(text, line, witness.verifier_key) == 1_700_000_000
    with pytest.raises(SignatureError, match="not by witness"):
        verify_cosignature(text, line, other)
    with pytest.raises(SignatureError):
        verify_cosignature(text.replace("3", "4"), line, witness.verifier_key)
    with pytest.raises(ValueError, match="0x04"):
        cosign(text, note_signer_for("w", Signer(SEED)), 1)


def test_witness_requests_log_signatures_check_and_consistency_proof_verifies(spec_vectors):
    block = spec_vectors["witness_add_checkpoint"]
    key = verifier_key_for(block["origin"], bytes.fromhex(block["log_public_key_hex"]))
    assert format_verifier_key(key) == block["derived_log_vkey"]
    for request in block["requests"]:
        body = request["request_body"].encode()
        note = body[body.index(b"\n\n") + 2 :]
        if request["log_signature_valid_with_derived_vkey"]:
            assert open_checkpoint(note, [key]).checkpoint.origin == block["origin"]
        else:
            with pytest.raises(VerificationError):
                open_checkpoint(note, [key])
        check = request.get("consistency_check")
        if check:
            verify_consistency(
                check["size1"], check["size2"], [bytes.fromhex(h) for h in check["proof_hex"]],
                bytes.fromhex(check["root1_hex"]), bytes.fromhex(check["root2_hex"]),
            )


def test_c2sp_witness_response_lines_parse(spec_vectors):
    response = spec_vectors["witness_add_checkpoint"]["c2sp_example_response_parse_only"]
    lines = response.splitlines(keepends=True)
    assert [parse_signature_line(x).name for x in lines] == [
        "witness.example/w1", "witness.example/w1", "witness.example/w2"
    ]
    with pytest.raises(MalformedError):
        parse_signature_line(response)


# --- golden keys and checkpoint ------------------------------------------------------------------


def test_golden_publisher_key_strings_agree_with_the_seed():
    pub = KEYS["publisher"]
    signer = parse_signer_key(pub["skey"])
    assert signer.signer.seed.hex() == pub["seed_hex"]
    assert signer.signer.public_key.hex() == pub["public_key_hex"]
    assert signer.signer.key_id.hex() == pub["key_id_hex"]
    assert signer.key_hash.hex() == pub["note_key_id_hex"]
    assert signer.verifier_key == PUBLISHER
    assert format_signer_key(signer) == pub["skey"]
    wit = KEYS["witness"]
    assert WITNESS.type == SIG_COSIGNATURE_V1
    assert WITNESS.key_hash.hex() == wit["note_key_id_hex"]
    cosigner = note_signer_for(wit["name"], Signer(bytes.fromhex(wit["seed_hex"])), 4)
    assert cosigner.verifier_key == WITNESS


def test_golden_checkpoint_opens_with_the_publisher_key_and_the_witness_cosignature():
    expected = load_json(GOLDEN_DIR / "valid" / "expected.json")
    signed = open_ledger_checkpoint(GOLDEN_CHECKPOINT, PUBLISHER, [WITNESS], quorum=1)
    cp = signed.checkpoint
    assert (cp.origin, cp.size, cp.root.hex()) == (
        expected["origin"], expected["tree_size"], expected["root_hex"]
    )
    assert signed.note.verified_by == (PUBLISHER.name, WITNESS.name)
    assert signed.note_bytes == GOLDEN_CHECKPOINT
    line = signed.note.signatures[1]
    assert verify_cosignature(signed.note.text, line, WITNESS) == KEYS["witness"][
        "cosignature_timestamp"
    ]


def test_golden_checkpoint_resigned_and_recosigned_is_byte_identical():
    publisher = parse_signer_key(KEYS["publisher"]["skey"])
    wit = KEYS["witness"]
    witness = note_signer_for(wit["name"], Signer(bytes.fromhex(wit["seed_hex"])), 4)
    text = parse_unverified_note(GOLDEN_CHECKPOINT).text
    note = sign_note(text, [publisher]) + cosign(text, witness, wit["cosignature_timestamp"])
    assert note == GOLDEN_CHECKPOINT


def test_checkpoint_signed_by_another_key_of_the_publisher_name_is_rejected():
    data = (GOLDEN_DIR / "reject" / "checkpoint-signed-by-another-key" / "checkpoint").read_bytes()
    with pytest.raises(SignatureError, match="not signed by the publisher") as info:
        open_ledger_checkpoint(data, PUBLISHER, [WITNESS])
    assert info.value.category == "checkpoint"


@pytest.mark.parametrize("case", ["origin-without-election-id", "origin-with-colon"])
def test_checkpoint_of_an_origin_outside_the_grammar_is_rejected(case):
    cases = {c["name"]: c for c in load_json(GOLDEN_DIR / "reject" / "cases.json")["cases"]}
    data = (GOLDEN_DIR / "reject" / case / "checkpoint").read_bytes()
    with pytest.raises(MalformedError) as info:
        open_ledger_checkpoint(data, parse_verifier_key(cases[case]["vkey"]))
    assert info.value.category == "origin"


def test_checkpoint_of_another_origin_or_key_is_rejected():
    with pytest.raises(SignatureError):  # the publisher's signature does not cover the change
        open_ledger_checkpoint(GOLDEN_CHECKPOINT.replace(b"18052025", b"04052025", 1), PUBLISHER)
    stranger = verifier_key_for(PUBLISHER.name, Signer(SEED).public_key)
    with pytest.raises(SignatureError):
        open_ledger_checkpoint(GOLDEN_CHECKPOINT, stranger)
    other_origin = verifier_key_for("other.example/x", PUBLISHER.public_key)
    with pytest.raises(VerificationError):
        open_ledger_checkpoint(GOLDEN_CHECKPOINT, other_origin)


def test_missing_witness_quorum_is_rejected():
    no_witness = GOLDEN_CHECKPOINT[: GOLDEN_CHECKPOINT.rindex("— ".encode())]
    assert open_ledger_checkpoint(no_witness, PUBLISHER, [WITNESS]).checkpoint.size == 308
    with pytest.raises(SignatureError, match="quorum") as info:
        open_ledger_checkpoint(no_witness, PUBLISHER, [WITNESS], quorum=1)
    assert info.value.category == "checkpoint"


def test_checkpoint_with_extension_lines_breaks_the_profile():
    signer = note_signer_for("log.example/e", Signer(SEED))
    cp = Checkpoint(origin="log.example/e", size=1, root=bytes(32), extensions=("x",))
    data = sign_note(format_checkpoint(cp), [signer])
    assert open_checkpoint(data, [signer.verifier_key]).checkpoint == cp
    with pytest.raises(MalformedError, match="extension") as info:
        open_ledger_checkpoint(data, signer.verifier_key)
    assert info.value.category == "checkpoint"


# --- note limits and strictness ------------------------------------------------------------------


def _foreign_lines(n: int) -> str:
    return "".join(f"— foreign{i} {'AAAAAAA='}\n" for i in range(n))


def test_note_with_many_foreign_signatures_opens_up_to_100_lines():
    signer = note_signer_for("k", Signer(SEED))
    data = sign_note("hello\n", [signer])
    assert open_note(data + _foreign_lines(99).encode(), [signer.verifier_key]).text == "hello\n"
    with pytest.raises(MalformedError, match="more than 100"):
        open_note(data + _foreign_lines(100).encode(), [signer.verifier_key])


def test_two_signatures_of_one_known_key_are_rejected():
    signer = note_signer_for("k", Signer(SEED))
    data = sign_note("hello\n", [signer, signer])
    with pytest.raises(MalformedError, match="two signatures"):
        open_note(data, [signer.verifier_key])


def test_signature_line_with_non_canonical_base64_is_rejected():
    signer = note_signer_for("k", Signer(SEED))
    data = sign_note("hello\n", [signer])
    head, b64 = data[:-1].rsplit(b" ", 1)
    raw = base64.b64decode(b64)
    loose = base64.b64encode(raw)[:-1].rstrip(b"=")  # padding dropped
    with pytest.raises(MalformedError):
        open_note(head + b" " + loose + b"\n", [signer.verifier_key])


def test_oversized_or_non_utf8_notes_are_rejected():
    with pytest.raises(MalformedError, match="larger"):
        parse_unverified_note(b"a" * (1 << 20) + b"\n\n" + _foreign_lines(1).encode())
    with pytest.raises(MalformedError, match="UTF-8"):
        parse_unverified_note(b"\xff\n\n" + _foreign_lines(1).encode())


def test_signing_refuses_bad_text_and_cosigner_keys():
    signer = note_signer_for("k", Signer(SEED))
    for text in ("no newline", "tab\there\n", ""):
        with pytest.raises(ValueError, match="note text"):
            sign_note(text, [signer])
    with pytest.raises(ValueError, match="cosign"):
        sign_note("x\n", [as_cosigner(signer)])
    with pytest.raises(ValueError, match="1 to 100"):
        sign_note("x\n", [])
    with pytest.raises(ValueError, match="key name"):
        note_signer_for("a+b", Signer(SEED))


def test_format_note_drops_cosignatures_to_give_the_publisher_only_note():
    note = parse_unverified_note(GOLDEN_CHECKPOINT)
    only_publisher = format_note(note.text, note.signatures[:1])
    assert only_publisher == GOLDEN_CHECKPOINT[: GOLDEN_CHECKPOINT.rindex("— ".encode())]
    assert isinstance(note.signatures[0], NoteSignature)


# --- properties --------------------------------------------------------------------------------

_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]),
    min_size=1, max_size=12,
).filter(lambda s: "+" not in s and not any(c.isspace() for c in s))
_lines = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=30
)
_texts = st.lists(_lines, min_size=1, max_size=4).map(lambda ls: "".join(x + "\n" for x in ls))


@settings(max_examples=60, deadline=None)
@given(text=_texts, name=_names, seed=st.binary(min_size=32, max_size=32))
def test_sign_then_open_round_trips(text, name, seed):
    signer = note_signer_for(name, Signer(seed))
    note = open_note(sign_note(text, [signer]), [signer.verifier_key])
    assert note.text == text
    assert note.verified_by == (name,)


_TWO = [note_signer_for("log.example/a", Signer(SEED)),
        note_signer_for("witness.example/b", Signer(bytes(32)))]
_TWO_KEYS = [s.verifier_key for s in _TWO]
_SIGNED = sign_note("log.example/a\n7\n" + "A" * 43 + "=\n", _TWO)


@settings(max_examples=200, deadline=None)
@given(bit=st.integers(min_value=0, max_value=len(_SIGNED) * 8 - 1))
def test_a_single_bit_flip_is_rejected_or_leaves_the_text_unchanged_and_that_signer_unverified(bit):
    flipped = bytearray(_SIGNED)
    flipped[bit // 8] ^= 1 << (bit % 8)
    try:
        note = open_note(bytes(flipped), _TWO_KEYS)
    except VerificationError:
        return
    # Only a flip in one signer's name or key hash survives: that line becomes a foreign key's.
    assert note.text == parse_unverified_note(_SIGNED).text
    assert len(note.verified_by) == 1


# --- the docs' examples run ----------------------------------------------------------------------


def test_api_doc_examples_run():
    failures, tried = run_doc_examples("api.md", "`ledger.formats.notes`")
    assert tried > 30
    assert failures == 0


def test_spec_example_cosignature_decodes_as_the_spec_says():
    witness = parse_unverified_note(GOLDEN_CHECKPOINT).signatures[1]
    assert witness.key_hash.hex() == "b6fb5853"
    assert witness.signature[:8].hex() == "00000000682aca0c"
    assert int.from_bytes(witness.signature[:8], "big") == 1747634700
