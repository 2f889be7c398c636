"""`ledger mirror pull` and `ledger mirror serve` over real sockets on 127.0.0.1: a verified,
incremental, cosigned copy that never moves to a checkpoint it cannot vouch for."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from election_ledger_cli.app import cli

from ledger.auditor.prove import prove_station
from ledger.auditor.verify import verify
from ledger.core.hashing import sha256
from ledger.formats.checkpoints import Checkpoint, format_checkpoint, parse_checkpoint
from ledger.formats.keys import SIG_COSIGNATURE_V1, format_signer_key, parse_signer_key
from ledger.formats.notes import parse_unverified_note, sign_note, verify_cosignature
from ledger.mirror.pull import origin_dir_name
from ledger.sources.http import HttpSource
from ledger.sources.published import PublishedDirSource
from tests.http_support import Behaviour, local_server
from tests.verify_support import (
    CASES,
    EXPECTED,
    KEYS,
    PUBLISHER,
    VALID,
    copy_log,
    embedded_checkpoint,
)
from tests.witness_support import LEDGER, free_port, witness_key

ORIGIN = PUBLISHER.name
HEX = origin_dir_name(ORIGIN)
#: The size of an earlier block checkpoint of VALID (its partial tiles are published), and the
#: size of its latest one.
SMALL = EXPECTED["block_indices"][1] + 1
FULL = EXPECTED["tree_size"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    (folder / "publisher.pub").write_text(str(PUBLISHER) + "\n", encoding="ascii")
    mirror = witness_key("mirror.example.org/copy")
    key = folder / "mirror.key"
    key.write_text(format_signer_key(mirror) + "\n", encoding="ascii")
    key.chmod(0o600)
    (folder / "mirror.pub").write_text(str(mirror.verifier_key) + "\n", encoding="ascii")
    return {"pub": folder / "publisher.pub", "key": key, "vkey": folder / "mirror.pub"}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The publisher's site, at the earlier checkpoint of size SMALL (its tiles all there)."""
    root = copy_log(VALID, tmp_path / "site")
    (root / "checkpoint").write_bytes(embedded_checkpoint(VALID, SMALL))
    return root


def grow(site: Path) -> None:
    """The publisher publishes its latest checkpoint (FULL entries)."""
    (site / "checkpoint").write_bytes((VALID / "checkpoint").read_bytes())


def pull(keys: dict[str, Path], mirror: Path, *sources: str, extra: tuple[str, ...] = ()
         ) -> Result:
    args = ["mirror", "pull", str(mirror), "--pub", str(keys["pub"]), "--key", str(keys["key"]),
            "--workers", "1", *extra]
    for source in sources:
        args += ["--source", source]
    return CliRunner().invoke(cli, args)


def pulled(result: Result) -> dict[str, object]:
    assert result.exit_code in (0, 1), result.output
    return dict(json.loads(result.stdout))


def tiles_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in (root / "tile").rglob("*")
            if p.is_file()}


def mirrored_size(mirror: Path) -> int | None:
    path = mirror / HEX / "checkpoint"
    if not path.exists():
        return None
    return parse_checkpoint(parse_unverified_note(path.read_bytes()).text).size


def publisher_signed(size: int, root: bytes) -> bytes:
    signer = parse_signer_key(KEYS["publisher"]["skey"])
    return sign_note(format_checkpoint(Checkpoint(origin=ORIGIN, size=size, root=root)),
                     [signer])


# --- the copy ------------------------------------------------------------------------------


def test_a_pull_copies_verifies_and_cosigns_then_goes_on_incrementally(
        keys: dict[str, Path], site: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    with local_server(site) as server:
        first = pulled(pull(keys, mirror, server.url, extra=("--json",)))
        assert (first["status"], first["tree_size"], first["resumed_from"]) == (
            "moved", SMALL, None)
        grow(site)
        second = pulled(pull(keys, mirror, server.url, extra=("--json",)))
        assert (second["status"], second["held_size"], second["tree_size"]) == (
            "moved", SMALL, FULL)
        assert second["resumed_from"] == SMALL  # only what is new was read and checked
        assert pulled(pull(keys, mirror, server.url, extra=("--json",)))["status"] == "up-to-date"
    copy = mirror / HEX
    assert copy.name == sha256(ORIGIN.encode()).hex()
    # every tile and bundle the publisher published, byte for byte, and nothing else
    assert tiles_of(copy) == tiles_of(VALID)
    report = verify(PublishedDirSource(copy), PUBLISHER, workers=1)
    assert report.ok, report.errors
    note = (copy / "checkpoint").read_bytes()
    assert note.startswith((VALID / "checkpoint").read_bytes().split(b"\n\n")[0])
    mirror_vkey = (keys["vkey"].read_text(encoding="ascii").strip())
    from ledger.formats.keys import parse_verifier_key

    parsed = parse_unverified_note(note)
    ours = [s for s in parsed.signatures if s.name == "mirror.example.org/copy"]
    assert len(ours) == 1
    verify_cosignature(parsed.text, ours[0], parse_verifier_key(mirror_vkey))
    assert json.loads((copy / "audit.json").read_bytes())["ok"] is True


def test_election_rule_findings_do_not_stop_the_mirror_they_go_to_audit_json(
        keys: dict[str, Path], tmp_path: Path) -> None:
    case = next(c for c in CASES["cases"] if c["name"] == "turnout-lp-over-registered")
    site = copy_log(VALID.parent / case["dir"], tmp_path / "site")
    mirror = tmp_path / "mirror"
    with local_server(site) as server:
        result = pulled(pull(keys, mirror, server.url, extra=("--json",)))
    assert (result["status"], result["ok"], result["rule_errors"]) == ("moved", True, 1)
    audit = json.loads((mirror / HEX / "audit.json").read_bytes())
    assert audit["ok"] is False
    assert [(e["category"], e["index"]) for e in audit["errors"]] == [("rules", case["index"])]


@pytest.mark.parametrize("name", ["entry-signature-flipped", "hash-tile-byte-flip",
                                  "checkpoint-root-mismatch"])
def test_a_log_that_does_not_verify_is_not_mirrored(
        keys: dict[str, Path], tmp_path: Path, name: str) -> None:
    case = next(c for c in CASES["cases"] if c["name"] == name)
    site = copy_log(VALID.parent / case["dir"], tmp_path / "site")
    mirror = tmp_path / "mirror"
    with local_server(site) as server:
        result = pull(keys, mirror, server.url)
    assert result.exit_code == 1, result.output
    assert "REFUSED" in result.stdout
    assert mirrored_size(mirror) is None


# --- forks: never moved to, evidence kept ------------------------------------------------------


def test_a_forked_checkpoint_of_the_size_served_is_refused_with_evidence(
        keys: dict[str, Path], site: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    grow(site)
    with local_server(site) as server:
        assert pull(keys, mirror, server.url).exit_code == 0
        served = (mirror / HEX / "checkpoint").read_bytes()
        (site / "checkpoint").write_bytes(publisher_signed(FULL, bytes(32)))
        result = pull(keys, mirror, server.url)
    assert result.exit_code == 1, result.output
    assert "SPLIT VIEW" in result.stdout
    assert (mirror / HEX / "checkpoint").read_bytes() == served
    [evidence] = (mirror / HEX / "evidence").iterdir()
    assert evidence.read_bytes().startswith(b"election-ledger/split-view@v1\nsame-size\n")
    checked = CliRunner().invoke(cli, ["check-evidence", str(evidence), "--pub",
                                       str(keys["pub"])])
    assert checked.exit_code == 1, checked.output


def test_an_older_checkpoint_that_is_no_prefix_of_the_copy_is_evidence_too(
        keys: dict[str, Path], site: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    grow(site)
    with local_server(site) as server:
        assert pull(keys, mirror, server.url).exit_code == 0
        (site / "checkpoint").write_bytes(embedded_checkpoint(VALID, SMALL))
        behind = pulled(pull(keys, mirror, server.url, extra=("--json",)))
        assert (behind["status"], behind["ok"]) == ("behind", True)
        (site / "checkpoint").write_bytes(publisher_signed(SMALL, bytes(32)))
        result = pull(keys, mirror, server.url)
    assert result.exit_code == 1, result.output
    [evidence] = (mirror / HEX / "evidence").iterdir()
    header = f"election-ledger/split-view@v1\nprefix {SMALL}\n".encode()
    assert evidence.read_bytes().startswith(header)
    checked = CliRunner().invoke(cli, ["check-evidence", str(evidence), "--pub",
                                       str(keys["pub"])])
    assert checked.exit_code == 1, checked.output
    assert mirrored_size(mirror) == FULL


# --- keys and policies ---------------------------------------------------------------------


def test_keygen_makes_a_mirror_key_and_a_witness_key_of_the_policy_is_refused(
        keys: dict[str, Path], site: Path, tmp_path: Path) -> None:
    made = CliRunner().invoke(cli, ["keygen", "m", "--key-name", "mirror.example/x", "--type",
                                    "mirror", "-o", str(tmp_path / "k")])
    assert made.exit_code == 0, made.output
    key = parse_signer_key((tmp_path / "k" / "m.key").read_text(encoding="ascii").strip())
    assert key.type == SIG_COSIGNATURE_V1
    vkey = keys["vkey"].read_text(encoding="ascii").strip()
    policy = tmp_path / "p.policy"
    policy.write_text(f"log {PUBLISHER}\nwitness m {vkey}\nquorum none\n", encoding="utf-8")
    with local_server(site) as server:
        result = pull(keys, tmp_path / "mirror", server.url, extra=("--policy", str(policy)))
    assert result.exit_code == 2, result.output
    assert "witness key of the policy" in result.stderr
    publisher_key = tmp_path / "pk.key"
    publisher_key.write_text(KEYS["publisher"]["skey"] + "\n", encoding="ascii")
    publisher_key.chmod(0o600)
    wrong = CliRunner().invoke(cli, ["mirror", "pull", str(tmp_path / "m2"), "--source", "x",
                                     "--pub", str(keys["pub"]), "--key", str(publisher_key)])
    assert wrong.exit_code == 2
    assert "not a mirror key" in wrong.stderr


# --- several sources, and sources that misbehave ---------------------------------------------


def test_the_first_source_that_answers_is_used(keys: dict[str, Path], site: Path,
                                               tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/log"
    with local_server(site, Behaviour(html=True)) as html, \
            local_server(site, Behaviour(redirect_loop=True)) as loop, \
            local_server(site) as good:
        result = pull(keys, tmp_path / "mirror", dead, html.url, loop.url, good.url,
                      extra=("--json",))
        assert result.exit_code == 0, result.output
        assert pulled(result)["source"] == good.url + "/"
        assert "[source]" in result.stderr  # each one passed over is named
    assert mirrored_size(tmp_path / "mirror") == SMALL


def test_no_source_answering_is_exit_4_never_the_tampering_verdict(
        keys: dict[str, Path], tmp_path: Path) -> None:
    dead = [f"http://127.0.0.1:{free_port()}/log" for _ in range(2)]
    result = pull(keys, tmp_path / "mirror", *dead)
    assert result.exit_code == 4, result.output


def test_a_server_answering_503_twice_then_200_is_read(site: Path) -> None:
    with local_server(site, Behaviour(fail_503=2)) as server:
        note = HttpSource(server.url).read_checkpoint()
        assert note == (site / "checkpoint").read_bytes()
        assert server.behaviour.requests == 3


def test_the_publisher_stopping_mid_pull_is_finished_from_another_mirror(
        keys: dict[str, Path], site: Path, tmp_path: Path) -> None:
    grow(site)
    other = tmp_path / "other"
    with local_server(site) as server:
        assert pull(keys, other, server.url).exit_code == 0
    alone = verify(PublishedDirSource(site), PUBLISHER, workers=1)
    with local_server(site, Behaviour(stop_after=4)) as publisher, \
            local_server(other / HEX) as mirror_server:
        result = pull(keys, tmp_path / "mirror", publisher.url, mirror_server.url,
                      extra=("--json",))
        assert result.exit_code == 0, result.output
        assert publisher.behaviour.requests > 4  # it did stop answering mid-pull
        assert mirror_server.behaviour.requests > 0
    assert pulled(result)["source"] == publisher.url + "/"
    report = verify(PublishedDirSource(tmp_path / "mirror" / HEX), PUBLISHER, workers=1)
    assert (report.ok, report.tree_size, report.root) == (True, alone.tree_size, alone.root)


# --- crashes -------------------------------------------------------------------------------


def _pull_process(keys: dict[str, Path], mirror: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*LEDGER, "mirror", "pull", str(mirror), "--source", url, "--pub", str(keys["pub"]),
         "--key", str(keys["key"]), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_9_at_random_moments_leaves_a_mirror_that_serves_and_resumes(
        keys: dict[str, Path], site: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    rng = random.Random(14)
    new_tile = mirror / HEX / "tile" / "0" / "000"  # written only on the way to size FULL
    with local_server(site, Behaviour(latency=0.005)) as server:
        started = time.monotonic()
        done = _pull_process(keys, mirror, server.url)
        assert done.wait(timeout=60) == 0
        took = time.monotonic() - started
        grow(site)
        mid_write = 0
        for round_ in range(8):  # bounded: eight kills, half of them once writing has begun
            process = _pull_process(keys, mirror, server.url)
            if round_ % 2:
                deadline = time.monotonic() + took + 5
                while not new_tile.exists() and time.monotonic() < deadline:  # bounded
                    time.sleep(0.001)
            else:
                time.sleep(rng.uniform(0.05, took))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            size = mirrored_size(mirror)
            mid_write += size == SMALL and new_tile.exists()
            assert size in (SMALL, FULL)
            report = verify(PublishedDirSource(mirror / HEX), PUBLISHER, workers=1)
            assert report.ok, report.errors
            assert report.tree_size == size
            if size == FULL:
                # the pull was done: start again from size SMALL, to be killed on the way
                (site / "checkpoint").write_bytes(embedded_checkpoint(VALID, SMALL))
                shutil.rmtree(mirror)
                assert _pull_process(keys, mirror, server.url).wait(timeout=60) == 0
                grow(site)
        final = _pull_process(keys, mirror, server.url)
        assert final.wait(timeout=60) == 0
    assert mid_write > 0  # some kills did land between the first new file and the move
    assert mirrored_size(mirror) == FULL
    assert tiles_of(mirror / HEX) == tiles_of(VALID)


def test_a_first_pull_killed_after_its_audit_state_was_saved_starts_again(
        keys: dict[str, Path], site: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    with local_server(site) as server:
        assert pull(keys, mirror, server.url).exit_code == 0
        # as if killed after the audit state was written, before the checkpoint moved, with
        # some files of the copy not yet written
        (mirror / HEX / "checkpoint").unlink()
        shutil.rmtree(mirror / HEX / "tile" / "entries")
        result = pulled(pull(keys, mirror, server.url, extra=("--json",)))
    assert (result["status"], result["resumed_from"]) == ("moved", None)
    report = verify(PublishedDirSource(mirror / HEX), PUBLISHER, workers=1)
    assert report.ok, report.errors


# --- following, serving --------------------------------------------------------------------


def _wait(predicate: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # bounded
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_follow_keeps_the_mirror_updating_and_ctrl_c_ends_it_with_130(
        keys: dict[str, Path], site: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    with local_server(site) as server:
        process = subprocess.Popen(
            [*LEDGER, "mirror", "pull", str(mirror), "--source", server.url, "--pub",
             str(keys["pub"]), "--key", str(keys["key"]), "--workers", "1", "--follow", "0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _wait(lambda: mirrored_size(mirror) == SMALL)
            grow(site)
            _wait(lambda: mirrored_size(mirror) == FULL)
            server.stop()  # the source goes away: reported, never the end
            time.sleep(1.0)
            assert process.poll() is None
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert b"mirrored" in out
    assert b"no source answered" in err


@pytest.fixture
def served(keys: dict[str, Path], site: Path, tmp_path: Path) -> Iterator[str]:
    mirror = tmp_path / "mirror"
    grow(site)
    with local_server(site) as server:
        assert pull(keys, mirror, server.url).exit_code == 0
    port = free_port()
    process = subprocess.Popen([*LEDGER, "mirror", "serve", str(mirror), "--listen",
                                f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ})
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            urllib.request.urlopen(url + "/", timeout=1)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    try:
        _wait(up, 20)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_mirror_serve_serves_the_copy_for_any_reader(served: str, keys: dict[str, Path]) -> None:
    report = verify(HttpSource(f"{served}/{HEX}"), PUBLISHER, workers=1)
    assert report.ok, report.errors
    assert report.tree_size == FULL
    assert report.extra["station_index"] == "checked: 30 stations"  # the mirror's own index
    with HttpSource(f"{served}/{HEX}") as source:
        assert prove_station(source, "AB-1").lookup == "index"
    with urllib.request.urlopen(f"{served}/{HEX}/stations/AB-1.json") as r:
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["Content-Type"].startswith("application/json")
    with urllib.request.urlopen(f"{served}/{HEX}/tile/0/000") as r:
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    with urllib.request.urlopen(f"{served}/{HEX}/checkpoint") as r:
        assert r.headers["Cache-Control"] == "no-cache"
    for path in ["/.mirror/" + HEX + ".state", f"/{HEX}/../.mirror", f"/{HEX}/tile"]:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(served + path)
        assert e.value.code == 404
    result = CliRunner().invoke(cli, ["verify", f"{served}/{HEX}", "--pub", str(keys["pub"])])
    assert result.exit_code == 0, result.output


def test_the_mirror_package_never_loads_the_store() -> None:
    code = ("import sys, ledger.mirror.pull, ledger.mirror.server\n"
            "assert 'lmdb' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr


