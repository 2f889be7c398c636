"""`ledger witness serve` over real sockets on 127.0.0.1: the C2SP tlog-witness statuses in the
order of docs/spec.md ("Witness protocol"), durable state, and refusals that change nothing."""

from __future__ import annotations

import hashlib
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli as ledger_cli

from ledger.core.hashing import leaf_hash
from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import SIG_COSIGNATURE_V1, note_signer_for, parse_verifier_key
from ledger.formats.notes import sign_note, verify_cosignature
from ledger.formats.signing import Signer
from ledger.formats.text import encode_base64
from ledger.witness.state import origin_file_name
from tests.merkle_reference import ref_proof, ref_root
from tests.witness_support import WitnessProcess, post

ORIGIN = "test.example/witnessed"
LOG = note_signer_for(ORIGIN, Signer(hashlib.sha256(b"the log").digest()))
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(200)]


def _note(size: int, root: bytes | None = None) -> bytes:
    root = ref_root(LEAVES[:size]) if root is None else root
    return sign_note(format_checkpoint(Checkpoint(origin=ORIGIN, size=size, root=root)), [LOG])


def _request(old: int, size: int, root: bytes | None = None) -> bytes:
    proof = ref_proof(old, LEAVES[:size]) if 0 < old < size else []
    lines = "".join(encode_base64(h) + "\n" for h in proof)
    return f"old {old}\n{lines}\n".encode() + _note(size, root)


@pytest.fixture
def vectors_witness(tmp_path: Path, spec_vectors: dict[str, Any]) -> Iterator[WitnessProcess]:
    witness = WitnessProcess(tmp_path, [spec_vectors["witness_add_checkpoint"]["derived_log_vkey"]])
    witness.start()
    yield witness
    witness.stop()


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[WitnessProcess]:
    process = WitnessProcess(tmp_path, [str(LOG.verifier_key)])
    process.start()
    yield process
    process.stop()


def _state(witness: WitnessProcess) -> bytes | None:
    """The state the running witness holds for ORIGIN, read through its monitoring endpoint."""
    conn = witness.client()
    conn.request("GET", f"/{origin_file_name(ORIGIN)}/checkpoint")
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return body if response.status == 200 else None


def test_the_c2sp_witness_vectors_are_answered_in_order(vectors_witness: WitnessProcess,
                                                        spec_vectors: dict[str, Any]) -> None:
    vectors = spec_vectors["witness_add_checkpoint"]
    conn = vectors_witness.client()
    statuses = []
    for request in vectors["requests"]:
        status, body, kind = post(conn, request["request_body"].encode())
        statuses.append(status)
        if status == 200:
            verify_cosignature(request["request_body"].split("\n\n", 1)[1].split("\n\n")[0]
                               + "\n", body, vectors_witness.key.verifier_key)
        if status == 409 and kind.startswith("text/x.tlog.size"):
            assert body in (b"3\n", b"5\n")
    expected = [r["expected_http_status"] for r in vectors["requests"]]
    # Request 2 names an origin this witness does not witness (...e563): the recording
    # witness said 403, but C2SP tlog-witness (and docs/spec.md) answer an unknown origin 404,
    # checked before any signature, so a client can tell "not my log" from "bad signature".
    assert expected[2] == 403
    expected[2] = 404
    assert statuses == expected


def test_a_stale_old_size_gets_409_with_the_size_held(witness: WitnessProcess) -> None:
    conn = witness.client()
    assert post(conn, _request(0, 10))[0] == 200
    status, body, kind = post(conn, _request(5, 12))
    assert (status, body, kind) == (409, b"10\n", "text/x.tlog.size")


def test_a_forked_checkpoint_of_the_size_held_is_refused_and_kept_as_evidence(
        witness: WitnessProcess) -> None:
    conn = witness.client()
    assert post(conn, _request(0, 10))[0] == 200
    held = _state(witness)
    status, body, _ = post(conn, _request(10, 10, root=bytes(32)))
    assert status == 409
    assert b"split view" in body
    assert _state(witness) == held
    [evidence] = (witness.folder / "state" / "evidence").iterdir()
    text = evidence.read_bytes()
    assert text.startswith(b"election-ledger/split-view@v1\nsame-size\n\n")
    assert _note(10) in text
    assert _note(10, bytes(32)) in text
    pub = witness.folder / "log.pub"
    pub.write_text(f"{LOG.verifier_key}\n", encoding="ascii")
    checked = CliRunner().invoke(ledger_cli, ["check-evidence", str(evidence), "--pub", str(pub)])
    assert checked.exit_code == 1, checked.output


def test_a_checkpoint_that_does_not_extend_the_one_held_gets_422(
        witness: WitnessProcess) -> None:
    conn = witness.client()
    assert post(conn, _request(0, 10))[0] == 200
    held = _state(witness)
    forked = _request(10, 12).split(b"\n\n")[0] + b"\n\n" + _note(12, bytes(32))
    assert post(conn, forked)[0] == 422
    assert _state(witness) == held


@pytest.mark.parametrize(("name", "body", "status"), [
    ("wrong old line", b"olde 0\n\n" + b"x", 400),
    ("old larger than the size", b"old 11\n\n", 400),
    ("64 proof lines", b"old 1\n" + (encode_base64(bytes(32)) + "\n").encode() * 64 + b"\n", 400),
    ("a note with 101 signatures", b"old 0\n\n", 400),
    ("an unknown origin", b"old 0\n\n", 404),
    ("a signature of another key", b"old 0\n\n", 403),
])
def test_malformed_requests_get_a_one_line_answer_and_change_nothing(
        witness: WitnessProcess, name: str, body: bytes, status: int) -> None:
    conn = witness.client()
    assert post(conn, _request(0, 10))[0] == 200
    held = _state(witness)
    text = format_checkpoint(Checkpoint(origin=ORIGIN, size=10, root=ref_root(LEAVES[:10])))
    if name == "a note with 101 signatures":
        one = sign_note(text, [LOG]).split(b"\n\n")[1]
        body += text.encode() + b"\n" + one * 101
    elif name == "an unknown origin":
        other = note_signer_for("other.example/log", LOG.signer)
        body += sign_note(text.replace(ORIGIN, "other.example/log"), [other])
    elif name == "a signature of another key":
        body += sign_note(text, [note_signer_for(ORIGIN, Signer(bytes(32)))])
    elif name != "64 proof lines":
        body += _note(10)
    if name == "64 proof lines":
        body += _note(10)
    answer, reply, _ = post(conn, body)
    assert answer == status, reply
    assert reply.endswith(b"\n")
    assert reply.count(b"\n") == 1
    assert _state(witness) == held


def test_a_body_over_the_limit_is_refused_413(witness: WitnessProcess) -> None:
    assert post(witness.client(), b"old 0\n\n" + b"a" * (2 << 20))[0] == 413


def test_a_request_that_never_ends_is_answered_408(witness: WitnessProcess) -> None:
    with socket.create_connection(("127.0.0.1", witness.port), timeout=10) as s:
        s.sendall(b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: 1000\r\n\r\nold")
        started = time.monotonic()
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 5


def test_the_latest_cosigned_checkpoint_is_served_for_monitors(witness: WitnessProcess) -> None:
    conn = witness.client()
    assert post(conn, _request(0, 10))[0] == 200
    conn.request("GET", f"/{origin_file_name(ORIGIN)}/checkpoint")
    response = conn.getresponse()
    note = response.read()
    assert response.status == 200
    text = note.split(b"\n\n")[0].decode() + "\n"
    cosignature = note.decode().split("\n")[-2] + "\n"
    verify_cosignature(text, cosignature, witness.key.verifier_key)
    conn.request("GET", f"/{'0' * 64}/checkpoint")
    assert conn.getresponse().status == 404


def test_a_witness_killed_during_requests_never_loses_or_forks_its_state(
        witness: WitnessProcess) -> None:
    rng = random.Random(13)
    acknowledged = 0  # the largest size answered 200
    believed = 0  # the size we think the witness holds
    kills = 0
    size = 0
    conn = witness.client()
    for _ in range(100):  # 100 requests, each one entry larger; kills at random points
        size = min(size + 1, len(LEAVES))
        if rng.random() < 0.06:
            witness.kill()  # SIGKILL now: before, during or after a durable write
            kills += 1
            witness.start()
            conn = witness.client()
            held = _state(witness)
            held_size = 0 if held is None else int(held.split(b"\n")[1])
            assert held_size >= acknowledged, "an answered cosignature was lost"
            # A forked checkpoint of the size held is never cosigned after a restart.
            if held_size:
                assert post(conn, _request(held_size, held_size, bytes(32)))[0] == 409
            believed = held_size
        try:
            status, body, _ = post(conn, _request(believed, size))
        except (ConnectionError, OSError):
            conn = witness.client()
            continue
        if status == 409:
            believed = int(body)
            status, body, _ = post(conn, _request(believed, size))
        assert status == 200, body
        acknowledged = believed = size
    assert kills >= 3
    witness.kill()
    witness.start()
    held = _state(witness)
    assert held is not None
    assert int(held.split(b"\n")[1]) == acknowledged


def test_keygen_type_witness_makes_a_cosignature_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(ledger_cli, ["keygen", "uni", "--key-name", "uni.example/w",
                                             "--type", "witness", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    key = parse_verifier_key((tmp_path / "uni.pub").read_text(encoding="ascii"))
    assert key.type == SIG_COSIGNATURE_V1


def test_writes_of_many_origins_at_once_share_folder_flushes_and_all_land(
        tmp_path: Path) -> None:
    import threading

    from ledger.witness.state import WitnessState

    state = WitnessState(tmp_path / "state")
    origins = [f"county{i:02d}.example/log" for i in range(43)]

    def write(origin: str) -> None:
        for n in range(5):
            state.write(origin, f"{origin}\n{n}\n".encode())

    threads = [threading.Thread(target=write, args=(o,)) for o in origins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(not t.is_alive() for t in threads)
    assert [state.read(o) for o in origins] == [f"{o}\n4\n".encode() for o in origins]
    state.close()
    assert _states(tmp_path / "state", origins) == [f"{o}\n4\n".encode() for o in origins]
    assert not list((tmp_path / "state").glob(".*.tmp"))


def _states(folder: Path, origins: list[str]) -> list[bytes | None]:
    from ledger.witness.state import WitnessState

    state = WitnessState(folder)
    try:
        return [state.read(o) for o in origins]
    finally:
        state.close()


def test_a_record_cut_short_by_a_kill_is_dropped_and_the_answered_ones_kept(
        tmp_path: Path) -> None:
    from ledger.witness.state import JOURNAL, WitnessState

    state = WitnessState(tmp_path)
    state.write("a.example/log", b"a\n1\n")
    state.write("a.example/log", b"a\n2\n")
    state.close()
    journal = tmp_path / JOURNAL
    whole = journal.read_bytes()
    for cut in range(1, 20):  # every way the last append can be cut short
        journal.write_bytes(whole[:-cut])
        assert _states(tmp_path, ["a.example/log"]) == [b"a\n1\n"]
    journal.write_bytes(whole + b"\0" * 100)  # a file system that padded the last block
    assert _states(tmp_path, ["a.example/log"]) == [b"a\n2\n"]


def test_a_journal_damaged_before_its_end_is_refused_not_rolled_back(tmp_path: Path) -> None:
    from ledger.errors import StoreError
    from ledger.witness.state import JOURNAL, MAGIC, WitnessState

    state = WitnessState(tmp_path)
    state.write("a.example/log", b"a\n1\n")
    state.write("a.example/log", b"a\n2\n")
    state.close()
    journal = tmp_path / JOURNAL
    data = bytearray(journal.read_bytes())
    data[len(MAGIC) + 14] ^= 1  # inside the first record's payload
    journal.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged at byte"):
        WitnessState(tmp_path)


def test_a_second_process_on_the_same_state_folder_is_refused(tmp_path: Path) -> None:
    from ledger.errors import StoreError
    from ledger.witness.state import WitnessState

    state = WitnessState(tmp_path)
    try:
        with pytest.raises(StoreError, match="in use by another process"):
            WitnessState(tmp_path)
    finally:
        state.close()


def test_the_journal_rewritten_when_large_keeps_every_origin(tmp_path: Path) -> None:
    from ledger.witness.state import JOURNAL, WitnessState

    state = WitnessState(tmp_path, compact_at=2000)
    origins = [f"c{i}.example/log" for i in range(10)]
    for n in range(30):
        for origin in origins:
            state.write(origin, f"{origin}\n{n}\n".encode())
    state.close()
    assert (tmp_path / JOURNAL).stat().st_size < 2000 + 100
    assert _states(tmp_path, origins) == [f"{o}\n29\n".encode() for o in origins]


def test_the_first_form_of_the_state_is_imported(tmp_path: Path) -> None:
    note = _note(3)
    (tmp_path / (origin_file_name(ORIGIN) + ".checkpoint")).write_bytes(note)
    assert _states(tmp_path, [ORIGIN]) == [note]
    assert not list(tmp_path.glob("*.checkpoint"))
    assert _states(tmp_path, [ORIGIN]) == [note]
