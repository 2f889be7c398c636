"""`ledger publish --witnesses`: the publisher and two real witness processes over 127.0.0.1
sockets; a witness that is down delays the others by at most the time-out; a 409 is retried
once from the size it names; receipts carry the cosignatures (docs/publisher.md)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli as ledger_cli

from ledger.errors import StoreCorruptError
from ledger.formats.keys import NoteSigner, parse_verifier_key
from ledger.formats.notes import parse_unverified_note
from ledger.formats.policy import parse_policy
from ledger.publisher.ledger import Ledger
from ledger.publisher.witnesses import HttpAnswer, collect_cosignatures
from ledger.store.store import Store
from tests.test_log import T0, new_ledger, publisher_key
from tests.witness_support import WitnessProcess, witness_key

UNI, NGO = witness_key("uni.example/witness"), witness_key("ngo.example/witness")
VKEY = str(publisher_key().verifier_key)


def run(*args: str | Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(ledger_cli, [str(a) for a in args] + ["--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def led(tmp_path: Path) -> Path:
    with new_ledger(tmp_path / "led") as lg:
        lg.seal(T0)
    return tmp_path / "led"


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[dict[str, WitnessProcess]]:
    started: dict[str, WitnessProcess] = {}
    try:
        for name, key in (("uni", UNI), ("ngo", NGO)):
            (tmp_path / name).mkdir()
            started[name] = WitnessProcess(tmp_path / name, [VKEY], key=key)
            started[name].start()
        yield started
    finally:
        for process in started.values():
            process.stop()


def policy(path: Path, urls: dict[str, str], quorum: str = "both") -> Path:
    lines = [f"log {VKEY}"]
    for name, key in (("uni", UNI), ("ngo", NGO)):
        url = urls.get(name)
        lines.append(f"witness {name} {key.verifier_key}" + (f" {url}" if url else ""))
    path.write_text("\n".join([*lines, "group both all uni ngo", f"quorum {quorum}", ""]),
                    encoding="utf-8")
    return path


def urls(witnesses: dict[str, WitnessProcess]) -> dict[str, str]:
    return {name: f"http://127.0.0.1:{w.port}" for name, w in witnesses.items()}


def seal_again(led: Path, n: int) -> None:
    with Ledger.open(led, publisher_key()) as lg:
        lg.seal(T0 + 60_000 * n)


def cosigners(note: bytes, *keys: NoteSigner) -> set[str]:
    sigs = {(s.name, s.key_hash) for s in parse_unverified_note(note).signatures}
    return {k.name for k in keys if (k.name, k.key_hash) in sigs}


def test_publish_collects_both_cosignatures_and_observers_trust_them(
        tmp_path: Path, led: Path, witnesses: dict[str, WitnessProcess]) -> None:
    asked = policy(tmp_path / "witnesses.policy", urls(witnesses))
    code, out = run("publish", led, tmp_path / "site", "--witnesses", asked)
    assert code == 0, out
    assert out["cosigned_by"] == ["uni", "ngo"]
    assert out["quorum_met"] is True
    assert [w["old"] for w in out["witnesses"]] == [0, 0]
    published = (tmp_path / "site" / "checkpoint").read_bytes()
    assert cosigners(published, UNI, NGO) == {UNI.name, NGO.name}
    observers = policy(tmp_path / "observers.policy", {})  # what observers trust: no URLs
    code, verified = run("verify", tmp_path / "site", "--policy", observers)
    assert code == 0, verified
    # The next block: each witness gets a proof from the size it holds, no 409.
    seal_again(led, 1)
    code, out = run("publish", led, tmp_path / "site", "--witnesses", asked)
    assert code == 0, out
    assert out["cosigned_by"] == ["uni", "ngo"]
    assert [(w["old"], w["retried"]) for w in out["witnesses"]] == [(out["tree_size"] - 1,
                                                                     False)] * 2
    # Receipts carry the cosignatures: check-proof --policy holds offline.
    receipt = tmp_path / "AB-1.tlog-proof"
    code, proved = run("prove", tmp_path / "site", "1", "-o", receipt)
    assert code == 0, proved
    code, checked = run("check-proof", receipt, "--policy", observers)
    assert code == 0, checked
    assert checked["cosigned_by"] == ["uni", "ngo"]


def test_a_409_is_retried_once_from_the_size_the_witness_names(
        tmp_path: Path, led: Path, witnesses: dict[str, WitnessProcess]) -> None:
    asked = policy(tmp_path / "witnesses.policy", urls(witnesses))
    assert run("publish", led, tmp_path / "site", "--witnesses", asked)[0] == 0
    held = int((tmp_path / "site" / "checkpoint").read_bytes().split(b"\n")[1])
    with Store(led, write=True) as store:  # the publisher forgot what the witnesses hold
        store.put_meta("witness_sizes", b"{}")
    seal_again(led, 1)
    code, out = run("publish", led, tmp_path / "site", "--witnesses", asked)
    assert code == 0, out
    assert out["cosigned_by"] == ["uni", "ngo"]
    assert [(w["old"], w["retried"]) for w in out["witnesses"]] == [(held, True)] * 2


def test_a_witness_that_never_answers_delays_the_others_by_at_most_the_timeout(
        tmp_path: Path, led: Path, witnesses: dict[str, WitnessProcess]) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        down = {"uni": urls(witnesses)["uni"],
                "ngo": f"http://127.0.0.1:{silent.getsockname()[1]}"}
        asked = policy(tmp_path / "witnesses.policy", down)
        started = time.monotonic()
        code, out = run("publish", led, tmp_path / "site", "--witnesses", asked,
                        "--witness-timeout", "1")
        took = time.monotonic() - started
    assert code == 0, out
    assert took < 4.0
    assert out["cosigned_by"] == ["uni"]
    assert out["quorum_met"] is False
    ngo = out["witnesses"][1]
    assert (ngo["cosigned"], ngo["status"]) == (False, None)
    published = (tmp_path / "site" / "checkpoint").read_bytes()
    assert cosigners(published, UNI, NGO) == {UNI.name}
    # A witness whose port is closed: refused at once; the summary says so.
    witnesses["ngo"].stop()
    asked = policy(tmp_path / "witnesses.policy", urls(witnesses))
    result = CliRunner().invoke(ledger_cli, ["publish", str(led), str(tmp_path / "site"),
                                             "--witnesses", str(asked)])
    assert result.exit_code == 0, result.output
    assert "witness uni (" in result.output
    assert "witness ngo (" in result.output
    assert "no cosignature (no answer" in result.output
    assert "cosigned by uni; the policy's quorum is NOT met" in result.output


def test_only_the_publishers_own_signature_is_sent_and_bad_cosignatures_are_not_kept(
        tmp_path: Path, led: Path) -> None:
    sent: list[bytes] = []

    def fake(url: str, body: bytes) -> HttpAnswer:
        sent.append(body)
        return HttpAnswer(status=200, content_type="text/plain", body=b"\xe2\x80\x94 ngo x\n")

    rules = parse_policy(policy(tmp_path / "p", {"uni": "http://127.0.0.1:9", "ngo":
                                                 "http://127.0.0.1:9"}).read_bytes())
    with Ledger.open(led) as lg:
        cosigned = collect_cosignatures(lg, rules, post=fake)
        expected = lg.latest_checkpoint()
    assert expected is not None
    assert cosigned.cosigned_by == ()
    assert len(sent) == 2
    for body in sent:
        assert body.startswith(b"old 0\n\n")
        assert body.split(b"\n\n", 1)[1] == expected.note_bytes
        note = parse_unverified_note(body.split(b"\n\n", 1)[1])
        assert [s.name for s in note.signatures] == [parse_verifier_key(VKEY).name]
    assert cosigned.note == expected.note_bytes


def test_witnesses_need_the_publishers_own_ledger_directory(tmp_path: Path, led: Path) -> None:
    asked = policy(tmp_path / "witnesses.policy", {"uni": "http://127.0.0.1:9"})
    code, out = run("publish", tmp_path / "nowhere", tmp_path / "site", "--witnesses", asked)
    assert code == 2
    assert "ledger directory" in out["error"]
    code, out = run("publish", led, tmp_path / "site", "--witnesses", tmp_path / "missing")
    assert code == 2


def test_a_checkpoint_whose_root_is_not_the_stored_trees_is_never_sent(
        tmp_path: Path, led: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[bytes] = []

    def fake(url: str, body: bytes) -> HttpAnswer:
        sent.append(body)
        return HttpAnswer(status=500, content_type="text/plain", body=b"no\n")

    rules = parse_policy(policy(tmp_path / "p", {"uni": "http://127.0.0.1:9"}).read_bytes())
    with Ledger.open(led) as lg:
        monkeypatch.setattr(lg, "root", lambda size=None: bytes(32))
        with pytest.raises(StoreCorruptError, match="not sent"):
            collect_cosignatures(lg, rules, post=fake)
    assert sent == []
