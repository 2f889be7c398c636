"""`ledger watch` over a real server on 127.0.0.1: one line per new checkpoint, a fork or a rule
error ends it with exit 1 and the evidence or report, a silent source never does, Ctrl-C 130."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from tests.http_support import local_server
from tests.test_mirror import FULL, SMALL, grow, publisher_signed
from tests.verify_support import CASES, PUBLISHER, VALID, copy_log, embedded_checkpoint
from tests.witness_support import LEDGER


def _watch(tmp_path: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    pub = tmp_path / "publisher.pub"
    pub.write_text(str(PUBLISHER) + "\n", encoding="ascii")
    return subprocess.Popen([*LEDGER, "watch", url, "--pub", str(pub), "--state",
                             str(tmp_path / "watch.state"), "--every", "0.1", "--workers", "1",
                             "--json", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _next_line(process: subprocess.Popen[bytes]) -> dict[str, object]:
    assert process.stdout is not None
    line = process.stdout.readline()  # the process prints one line per new checkpoint
    assert line, process.stderr.read() if process.stderr else ""
    return dict(json.loads(line))


def _site(tmp_path: Path) -> Path:
    site = copy_log(VALID, tmp_path / "site")
    (site / "checkpoint").write_bytes(embedded_checkpoint(VALID, SMALL))
    return site


def test_watch_prints_each_new_checkpoint_survives_a_silent_source_and_ctrl_c_is_130(
        tmp_path: Path) -> None:
    site = _site(tmp_path)
    with local_server(site) as server:
        process = _watch(tmp_path, server.url)
        try:
            first = _next_line(process)
            assert (first["status"], first["tree_size"], first["new_entries"]) == (
                "new", SMALL, SMALL)
            grow(site)
            second = _next_line(process)
            while second["status"] == "same":  # bounded: the server grew before this read
                second = _next_line(process)
            assert (second["status"], second["previous_size"], second["tree_size"]) == (
                "new", SMALL, FULL)
            assert second["new_entries"] == FULL - SMALL  # only what is new was read
            server.stop()
            time.sleep(1.0)
            assert process.poll() is None  # a source that does not answer is no exit
        finally:
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert b"does not answer" in err


def test_watch_ends_with_evidence_on_a_fork(tmp_path: Path) -> None:
    site = _site(tmp_path)
    grow(site)
    with local_server(site) as server:
        process = _watch(tmp_path, server.url)
        try:
            assert _next_line(process)["tree_size"] == FULL
            (site / "checkpoint").write_bytes(publisher_signed(FULL, bytes(32)))
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 1, err
    last = json.loads(out.splitlines()[-1])
    assert last["status"] == "split-view"
    assert Path(str(last["evidence"])).read_bytes().startswith(b"election-ledger/split-view@v1")


def test_watch_ends_with_the_report_on_a_rule_error(tmp_path: Path) -> None:
    case = next(c for c in CASES["cases"] if c["name"] == "turnout-lp-over-registered")
    site = copy_log(VALID.parent / case["dir"], tmp_path / "site")
    with local_server(site) as server:
        process = _watch(tmp_path, server.url)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    last = json.loads(out.splitlines()[-1])
    assert last["status"] == "errors"
    assert [e["category"] for e in last["report"]["errors"]] == ["rules"]
