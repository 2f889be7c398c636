"""The HTTP reader against a real server on 127.0.0.1 that misbehaves on demand: retries with
Retry-After, redirect loops, HTML, kept-alive connections, files read ahead in parallel."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

import ledger.sources.http as http_source
from ledger.errors import InputError, MalformedError, SourceUnavailableError
from ledger.formats.tiles import BundleId, TileId, bundles_for_size, tiles_for_size
from ledger.sources.http import HttpSource
from ledger.sources.published import PublishedDirSource
from tests.http_support import Behaviour, local_server
from tests.test_mirror import publisher_signed
from tests.verify_support import EXPECTED, PUBLISHER, VALID, copy_log, embedded_checkpoint

SIZE = EXPECTED["tree_size"]


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    path = tmp_path / "publisher.pub"
    path.write_text(str(PUBLISHER) + "\n", encoding="ascii")
    return path


def test_503_twice_then_200_is_read_and_retry_after_is_honoured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_source, "HTTP_RETRY_PAUSE", 0.01)
    with local_server(VALID, Behaviour(fail_503=2, retry_after="1")) as server:
        started = time.monotonic()
        assert HttpSource(server.url).read_checkpoint() == (VALID / "checkpoint").read_bytes()
        assert time.monotonic() - started >= 2.0  # twice the second the server asked for
        assert server.behaviour.requests == 3


def test_503_every_time_is_unavailable_exit_4_not_the_tampering_verdict(
        pub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_source, "HTTP_RETRY_PAUSE", 0.01)
    with local_server(VALID, Behaviour(fail_503=10**6)) as server:
        with pytest.raises(SourceUnavailableError):
            HttpSource(server.url).read_checkpoint()
        result = CliRunner().invoke(cli, ["verify", server.url, "--pub", str(pub)])
    assert result.exit_code == 4, result.output


def test_a_redirect_loop_ends_after_a_bounded_number_of_hops() -> None:
    with local_server(VALID, Behaviour(redirect_loop=True)) as server:
        source = HttpSource(server.url)
        with pytest.raises(InputError, match="redirects"):
            source.read_checkpoint()
        with pytest.raises(MalformedError, match="redirects") as e:
            source.read_tile(0, 0, 256)
        assert e.value.code == "http-error"
        assert server.behaviour.requests <= 2 * (http_source.HTTP_MAX_REDIRECTS + 1)


def test_an_html_page_for_the_checkpoint_is_a_finding(pub: Path) -> None:
    with local_server(VALID, Behaviour(html=True)) as server:
        result = CliRunner().invoke(cli, ["verify", server.url, "--pub", str(pub), "--json"])
    assert result.exit_code == 1, result.output
    assert '"category": "checkpoint"' in result.stdout


def test_connections_are_kept_alive() -> None:
    with local_server(VALID) as server:
        source = HttpSource(server.url)
        for tile in tiles_for_size(SIZE):
            source.read_tile(tile.level, tile.index, tile.width)
        source.close()
        assert server.behaviour.requests >= 3
        assert len(server.behaviour.clients) == 1


def test_files_read_ahead_come_in_parallel_and_equal_those_read_one_by_one() -> None:
    local = PublishedDirSource(VALID)
    refs: list[TileId | BundleId] = [*bundles_for_size(SIZE), *tiles_for_size(SIZE),
                                     TileId(level=0, index=7)]  # the last is not there
    with local_server(VALID, Behaviour(latency=0.2)) as server:
        source = HttpSource(server.url)
        started = time.monotonic()
        source.read_ahead(refs)
        for ref in refs[:-1]:
            if isinstance(ref, BundleId):
                got = source.read_entry_bundle(ref.index, ref.width)
                assert got == local.read_entry_bundle(ref.index, ref.width)
            else:
                got = source.read_tile(ref.level, ref.index, ref.width)
                assert got == local.read_tile(ref.level, ref.index, ref.width)
        with pytest.raises(MalformedError) as missing:
            source.read_tile(0, 7, 256)
        assert missing.value.code == "missing-file"
        elapsed = time.monotonic() - started
        source.close()
    assert len(refs) >= 4
    assert elapsed < 0.2 * len(refs) / 2  # not one round trip after the other


def test_verify_over_http_gives_the_directory_report(pub: Path) -> None:
    with local_server(VALID, Behaviour(latency=0.01)) as server:
        remote = CliRunner().invoke(cli, ["verify", server.url, "--pub", str(pub), "--json",
                                          "--workers", "1"])
    local = CliRunner().invoke(cli, ["verify", str(VALID), "--pub", str(pub), "--json",
                                     "--workers", "1"])
    assert remote.exit_code == local.exit_code == 0

    assert _stable(remote.stdout) == _stable(local.stdout)


# --- several sources -------------------------------------------------------------------------


def _stable(text: str) -> dict[str, object]:
    value = json.loads(text)
    value["summary"].pop("seconds")
    value["summary"].pop("records_per_second")
    return dict(value)


def test_the_publisher_stopping_mid_audit_the_audit_finishes_from_a_mirror(
        pub: Path, tmp_path: Path) -> None:
    local = CliRunner().invoke(cli, ["verify", str(VALID), "--pub", str(pub), "--json",
                                     "--workers", "1"])
    with local_server(VALID, Behaviour(stop_after=3)) as publisher, \
            local_server(VALID) as mirror:
        result = CliRunner().invoke(cli, ["verify", publisher.url, "--source", mirror.url,
                                          "--pub", str(pub), "--json", "--workers", "1"])
        assert publisher.behaviour.requests > 3  # it went away mid-audit
        assert mirror.behaviour.requests > 0
    assert result.exit_code == 0, result.output
    assert _stable(result.stdout) == _stable(local.stdout)
    assert "did not answer" in result.stderr


def test_a_source_answering_503_is_retried_then_the_next_one_serves(
        pub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_source, "HTTP_RETRY_PAUSE", 0.01)
    with local_server(VALID, Behaviour(fail_503=10**6)) as busy, local_server(VALID) as good:
        result = CliRunner().invoke(cli, ["verify", busy.url, "--source", good.url, "--pub",
                                          str(pub), "--workers", "1"])
        assert busy.behaviour.requests == http_source.HTTP_ATTEMPTS  # retried, then passed
    assert result.exit_code == 0, result.output


def test_every_source_unavailable_is_exit_4(pub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_source, "HTTP_RETRY_PAUSE", 0.01)
    with local_server(VALID, Behaviour(fail_503=10**6)) as one, \
            local_server(VALID, Behaviour(fail_503=10**6)) as two:
        result = CliRunner().invoke(cli, ["verify", "--source", one.url, "--source", two.url,
                                          "--pub", str(pub)])
    assert result.exit_code == 4, result.output


def test_bad_bytes_from_one_source_are_a_warning_naming_it(pub: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(VALID, damaged)
    tile = damaged / "tile" / "0" / "000"
    tile.write_bytes(tile.read_bytes()[:100])
    with local_server(damaged) as bad, local_server(VALID) as good:
        result = CliRunner().invoke(cli, ["verify", bad.url, "--source", good.url, "--pub",
                                          str(pub), "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    [warning] = [w for w in json.loads(result.stdout)["warnings"] if w["category"] == "source"]
    assert warning["source"] == bad.url + "/"
    assert warning["file"] == "tile/0/000"


def test_the_largest_checkpoint_of_the_sources_is_audited_each_other_proved_a_prefix(
        pub: Path, tmp_path: Path) -> None:
    behind = copy_log(VALID, tmp_path / "behind")
    earlier = EXPECTED["block_indices"][1] + 1  # an earlier block checkpoint's size
    (behind / "checkpoint").write_bytes(embedded_checkpoint(VALID, earlier))
    with local_server(behind) as old, local_server(VALID) as new:
        result = CliRunner().invoke(cli, ["verify", old.url, "--source", new.url, "--pub",
                                          str(pub), "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tree_size"] == SIZE


def test_two_sources_serving_a_split_view_is_evidence_exit_1(
        pub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forked = copy_log(VALID, tmp_path / "forked")
    (forked / "checkpoint").write_bytes(publisher_signed(SIZE, bytes(32)))
    monkeypatch.chdir(tmp_path)
    with local_server(VALID) as honest, local_server(forked) as other:
        result = CliRunner().invoke(cli, ["verify", honest.url, "--source", other.url, "--pub",
                                          str(pub), "--evidence-out", "split.txt"])
    assert result.exit_code == 1, result.output
    assert "split-view evidence written to split.txt" in result.stderr
    checked = CliRunner().invoke(cli, ["check-evidence", "split.txt", "--pub", str(pub)])
    assert checked.exit_code == 1, checked.output
