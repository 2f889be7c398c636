"""tlog-policy files: every parsing rule (each error names its line) and the quorum check."""

from __future__ import annotations

import hashlib

import pytest

from ledger.errors import InputError, MalformedError, SignatureError, VerificationError
from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import SIG_COSIGNATURE_V1, NoteSigner, note_signer_for
from ledger.formats.notes import (
    cosign,
    format_note,
    parse_signature_line,
    parse_unverified_note,
    sign_note,
)
from ledger.formats.policy import MAX_CLOCK_SKEW, Policy, check_witnessed, parse_policy
from ledger.formats.signing import Signer

NOW = 1_767_139_200
ORIGIN = "example.org/election"


def _signer(name: str, cosigner: bool = True) -> NoteSigner:
    seed = hashlib.sha256(name.encode()).digest()
    return note_signer_for(name, Signer(seed), SIG_COSIGNATURE_V1 if cosigner else 0x01)


LOG = _signer(ORIGIN, cosigner=False)
W = {name: _signer(name) for name in ("uni", "party-a", "party-b", "ngo", "spare")}


def _policy(*lines: str) -> Policy:
    return parse_policy("\n".join(lines).encode() + b"\n", file="p.policy")


def _head(quorum: str = "none") -> list[str]:
    """The log, every witness (with a URL) and, unless ``quorum`` is empty, a quorum line."""
    lines = [f"log {LOG.verifier_key}",
             *(f"witness {n} {s.verifier_key} https://{n}.example/" for n, s in W.items())]
    return [*lines, f"quorum {quorum}"] if quorum else lines


def _refused(*lines: str) -> InputError:
    with pytest.raises(InputError) as caught:
        _policy(*lines)
    return caught.value


def _note(*names: str, now: int = NOW) -> bytes:
    text = format_checkpoint(Checkpoint(origin=ORIGIN, size=5, root=bytes(32)))
    signed = parse_unverified_note(sign_note(text, [LOG]))
    cosigs = [parse_signature_line(cosign(text, W[n], now)) for n in names]
    return format_note(text, [*signed.signatures, *cosigs])


def _check(policy: Policy, note: bytes, now: int = NOW) -> tuple[str, ...]:
    return check_witnessed(parse_unverified_note(note), policy, now=now).cosigned_by


# --- parsing -----------------------------------------------------------------------------------


def test_a_policy_with_comments_logs_witnesses_groups_and_quorum_parses() -> None:
    policy = _policy("# observers of the 2026 election", "", *_head(""),
                     "group parties 1 party-a party-b", "group all-of-them all uni parties ngo",
                     "quorum all-of-them")
    assert policy.log_key(ORIGIN) == LOG.verifier_key
    assert [w.name for w in policy.witnesses] == list(W)
    assert policy.witnesses[0].url == "https://uni.example/"
    assert [(g.name, g.threshold) for g in policy.groups] == [("parties", 1),
                                                             ("all-of-them", 3)]
    assert policy.quorum == "all-of-them"


def test_quorum_none_requires_no_cosignature() -> None:
    policy = _policy(*_head("none"))
    assert policy.quorum is None
    assert _check(policy, _note()) == ()


def test_a_policy_without_a_quorum_line_is_refused() -> None:
    assert "no quorum line" in str(_refused(*_head("")))


def test_a_second_quorum_line_is_refused_naming_both_lines() -> None:
    error = _refused(*_head("uni"), "quorum ngo")
    assert error.where.line == 8
    assert "line 7" in error.message


def test_a_forward_reference_in_a_group_is_refused_with_its_line() -> None:
    error = _refused(f"log {LOG.verifier_key}", "group g 1 uni", "quorum none")
    assert (error.where.file, error.where.line) == ("p.policy", 2)
    assert "not a witness or group defined above" in error.message


def test_a_quorum_naming_an_unknown_witness_is_refused() -> None:
    error = _refused(f"log {LOG.verifier_key}", "quorum uni")
    assert error.where.line == 2


def test_a_name_defined_twice_is_refused() -> None:
    error = _refused(*_head(""), "group uni 1 ngo", "quorum none")
    assert (error.where.line, "defined twice" in error.message) == (7, True)


def test_two_names_for_one_witness_key_are_duplicates() -> None:
    material = str(W["uni"].verifier_key).split("+", 1)[1]
    alias = note_signer_for("alias", W["uni"].signer, SIG_COSIGNATURE_V1).verifier_key
    assert str(alias).split("+")[2] == material.split("+")[1]
    error = _refused(f"witness uni {W['uni'].verifier_key}", f"witness alias {alias}",
                     "quorum none")
    assert error.where.line == 2
    assert "same public key as line 1" in error.message


def test_a_log_key_reused_as_a_witness_key_is_a_duplicate() -> None:
    as_witness = note_signer_for("w", LOG.signer, SIG_COSIGNATURE_V1).verifier_key
    assert _refused(f"log {LOG.verifier_key}", f"witness w {as_witness}",
                    "quorum none").where.line == 2


def test_a_member_listed_twice_in_a_group_is_refused() -> None:
    assert "listed twice" in _refused(*_head(""), "group g 1 uni uni", "quorum g").message


def test_none_is_not_a_group_member_nor_a_name() -> None:
    assert "none is not a member" in _refused(*_head(""), "group g 1 none uni",
                                              "quorum g").message
    assert _refused(f"witness none {W['uni'].verifier_key}", "quorum none").where.line == 1


@pytest.mark.parametrize("threshold", ["0", "3", "01", "-1", "two", "2.0"])
def test_a_threshold_out_of_range_or_not_a_number_is_refused(threshold: str) -> None:
    error = _refused(*_head(""), f"group g {threshold} uni ngo", "quorum g")
    assert error.where.line == 7


def test_a_witness_key_of_the_log_type_is_refused_and_the_reverse() -> None:
    assert "type 0x04" in _refused(f"witness w {LOG.verifier_key}", "quorum none").message
    assert "type 0x01" in _refused(f"log {W['uni'].verifier_key}", "quorum none").message


@pytest.mark.parametrize("line", ["logg x", "witness uni", "log",
                                  "witness uni {key} https://a/ extra", "witness uni {key} ftp://a"])
def test_a_malformed_line_is_refused_with_its_number(line: str) -> None:
    error = _refused("# header", line.format(key=W["uni"].verifier_key), "quorum none")
    assert error.where.line == 2


def test_two_log_lines_for_one_origin_are_refused() -> None:
    other = _signer(ORIGIN + "x", cosigner=False)
    renamed = note_signer_for(ORIGIN, other.signer).verifier_key
    assert _refused(f"log {LOG.verifier_key}", f"log {renamed}", "quorum none").where.line == 2


def test_at_least_32_logs_witnesses_and_groups_are_supported() -> None:
    logs = [f"log {_signer(f'l{i}.example/e', cosigner=False).verifier_key}" for i in range(40)]
    witnesses = [f"witness w{i} {_signer(f'w{i}').verifier_key}" for i in range(40)]
    groups = [f"group g{i} 1 w{i}" for i in range(40)]
    policy = _policy(*logs, *witnesses, *groups, "group top 32 " + " ".join(
        f"g{i}" for i in range(40)), "quorum top")
    assert (len(policy.logs), len(policy.witnesses), len(policy.groups)) == (40, 40, 41)
    assert policy.met_by([f"w{i}" for i in range(32)])
    assert not policy.met_by([f"w{i}" for i in range(31)])


def test_a_policy_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(InputError):
        parse_policy(b"quorum none\n\xff\n")


# --- quorum ------------------------------------------------------------------------------------


def test_threshold_groups_count_met_members() -> None:
    policy = _policy(*_head(""), "group two 2 uni party-a ngo", "quorum two")
    assert _check(policy, _note("uni", "ngo")) == ("uni", "ngo")
    with pytest.raises(VerificationError) as caught:
        _check(policy, _note("uni"))
    assert caught.value.category == "witness"
    assert "group two needs 2 of uni, party-a, ngo; cosigned by uni" in caught.value.message


def test_nested_groups_name_the_group_that_fell_short() -> None:
    policy = _policy(*_head(""), "group parties any party-a party-b",
                     "group observers all uni ngo parties", "quorum observers")
    assert policy.met_by(["uni", "ngo", "party-b"])
    with pytest.raises(VerificationError) as caught:
        _check(policy, _note("uni", "ngo"))
    assert "group parties needs 1 of party-a, party-b" in caught.value.message
    assert "cosigned by uni, ngo" in caught.value.message


def test_a_quorum_of_one_witness_is_that_witness() -> None:
    policy = _policy(*_head("ngo"))
    assert _check(policy, _note("ngo")) == ("ngo",)
    with pytest.raises(VerificationError, match=r"needs witness ngo; cosigned by uni$"):
        _check(policy, _note("uni"))


def test_cosignatures_of_unlisted_witnesses_do_not_count() -> None:
    policy = _policy(f"log {LOG.verifier_key}", f"witness uni {W['uni'].verifier_key}",
                     "quorum uni")
    with pytest.raises(VerificationError, match="quorum"):
        _check(policy, _note("ngo"))


def test_a_forged_cosignature_of_a_listed_witness_is_an_error() -> None:
    note = _note("uni").decode()
    lines = note.split("\n")
    raw = parse_signature_line(lines[-2] + "\n")
    forged = type(raw)(name=raw.name, key_hash=raw.key_hash,
                       signature=raw.signature[:-1] + bytes([raw.signature[-1] ^ 1]))
    text = parse_unverified_note(note.encode())
    bad = format_note(text.text, [*text.signatures[:-1], forged])
    with pytest.raises(SignatureError) as caught:
        _check(_policy(*_head("none")), bad)
    assert (caught.value.category, caught.value.code) == ("witness", "bad-cosignature")


def test_a_cosignature_from_the_future_is_refused() -> None:
    policy = _policy(*_head("uni"))
    assert _check(policy, _note("uni", now=NOW + MAX_CLOCK_SKEW)) == ("uni",)
    with pytest.raises(VerificationError) as caught:
        _check(policy, _note("uni", now=NOW + MAX_CLOCK_SKEW + 1))
    assert (caught.value.category, caught.value.code) == ("witness", "cosignature-in-future")


def test_a_cosignature_timestamp_over_2_63_is_malformed() -> None:
    good = parse_unverified_note(_note("uni"))
    sig = good.signatures[-1]
    huge = type(sig)(name=sig.name, key_hash=sig.key_hash,
                     signature=(1 << 63).to_bytes(8, "big") + sig.signature[8:])
    note = format_note(good.text, [*good.signatures[:-1], huge])
    with pytest.raises(MalformedError, match="2\\^63"):
        _check(_policy(*_head("none")), note)
