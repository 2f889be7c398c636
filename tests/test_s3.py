"""Publishing to and reading from an S3-compatible object store, against a real server process
(``rclone serve s3`` on 127.0.0.1): the bucket verifies through the S3 API and through a plain
web server in front of its files, serves tiles immutable and the checkpoint ``no-cache``, is
written incrementally, and survives a publisher killed at any moment."""

from __future__ import annotations

import functools
import json
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from election_ledger_cli.app import cli

from ledger.auditor.verify import verify
from ledger.errors import ConsistencyError, MalformedError
from ledger.formats.checkpoints import Checkpoint, format_checkpoint, parse_checkpoint
from ledger.formats.keys import format_signer_key, parse_signer_key
from ledger.formats.notes import parse_unverified_note, sign_note
from ledger.formats.tiles import MAX_TILE_BYTES
from ledger.mirror.pull import origin_dir_name
from ledger.publisher.publish import publish
from ledger.sources.s3 import S3Bucket, S3Source
from tests.http_support import local_server
from tests.s3_support import BUCKET, S3Server, apply, aws_settings, s3_client, s3_server
from tests.verify_support import (
    EXPECTED,
    KEYS,
    PUBLISHER,
    VALID,
    ReadingSource,
    copy_log,
    embedded_checkpoint,
)
from tests.witness_support import LEDGER, free_port, witness_key

SMALL = EXPECTED["block_indices"][1] + 1  # an earlier block checkpoint of VALID
FULL = EXPECTED["tree_size"]
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3")) as running:
        yield running


@pytest.fixture
def aws(server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The AWS tools' settings (config and credentials files) pointing at the server."""
    apply(monkeypatch, aws_settings(tmp_path / "aws", server.endpoint))
    return server


@pytest.fixture
def pub(tmp_path: Path) -> Path:
    path = tmp_path / "publisher.pub"
    path.write_text(str(PUBLISHER) + "\n", encoding="ascii")
    return path


@pytest.fixture
def small_site(tmp_path: Path) -> Path:
    """The log as published at its earlier block checkpoint (size SMALL)."""
    root = copy_log(VALID, tmp_path / "site-small")
    (root / "checkpoint").write_bytes(embedded_checkpoint(VALID, SMALL))
    return root


def prefix_of(request: pytest.FixtureRequest) -> str:
    """One prefix per test: the tests share the server, never a tree."""
    return request.node.name.replace("[", "-").replace("]", "")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def bucket_size(server: S3Server, prefix: str) -> int:
    note = (server.folder(prefix) / "checkpoint").read_bytes()
    return parse_checkpoint(parse_unverified_note(note).text).size


def files_under(folder: Path) -> dict[str, bytes]:
    """The objects rclone holds in ``folder`` (not its temporary files of uploads under way)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".rclone_temp")}


@functools.cache
def _published(source: Path) -> dict[str, bytes]:
    """Every file a publish of ``source`` into a directory writes (tiles, station index, page)."""
    with tempfile.TemporaryDirectory() as tmp:
        publish(source, Path(tmp) / "site")
        return files_under(Path(tmp) / "site")


def published_files(source: Path) -> dict[str, bytes]:
    return dict(_published(source))


# --- publish, then read back -------------------------------------------------------------------


def test_a_published_bucket_verifies_through_s3_and_through_a_plain_web_server(
        aws: S3Server, pub: Path, request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    url = f"s3://{BUCKET}/{prefix}"
    done = run("publish", str(VALID), url, "--endpoint-url", aws.endpoint, "--results", "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert (report["tree_size"], report["written"]) == (FULL, len(published_files(VALID)))
    assert report["results"] == f"{url}/results.json"
    uploaded = files_under(aws.folder(prefix))
    assert {k: v for k, v in uploaded.items() if k != "results.json"} == published_files(VALID)
    # through the S3 API, the endpoint read from the AWS config file as the AWS tools read it
    checked = run("verify", url, "--pub", str(pub), "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["tree_size"] == FULL
    # the same bytes behind any web server (a CDN's origin): the HTTP reader verifies them
    with local_server(aws.folder(prefix)) as web:
        over_http = run("verify", web.url, "--pub", str(pub), "--json")
        tallied = run("tally", web.url, "--pub", str(pub), "--json")
    assert over_http.exit_code == 0, over_http.output
    assert json.loads(over_http.stdout)["root"] == json.loads(checked.stdout)["root"]
    assert tallied.exit_code == 0, tallied.output
    published_tally = json.loads(uploaded["results.json"])  # reproduced by anyone's tally
    assert published_tally["categories"] == json.loads(tallied.stdout)["tally"]["categories"]


def test_tiles_are_served_immutable_and_every_other_file_no_cache(
        aws: S3Server, request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    publish(VALID, f"s3://{BUCKET}/{prefix}")
    bucket = S3Bucket(f"s3://{BUCKET}/{prefix}")
    try:
        for path in sorted(published_files(VALID)):
            head = bucket.head(path)  # same server run: rclone keeps the headers in memory
            assert head is not None, path
            if path.startswith("tile/"):
                assert (head.cache_control, head.content_type) == (
                    IMMUTABLE, "application/octet-stream"), path
            elif path == "checkpoint":
                assert (head.cache_control, head.content_type) == (
                    "no-cache", "text/plain; charset=utf-8")
            else:  # the station index, ledger.json and the observer's page
                kind = {"json": "application/json", "html": "text/html; charset=utf-8",
                        "js": "text/javascript; charset=utf-8",
                        "css": "text/css; charset=utf-8"}.get(path.rpartition(".")[2],
                                                             "text/plain; charset=utf-8")
                assert (head.cache_control, head.content_type) == ("no-cache", kind), path
    finally:
        bucket.close()


def test_every_reading_command_reads_s3(aws: S3Server, pub: Path, tmp_path: Path,
                                        request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    url = f"s3://{BUCKET}/{prefix}"
    publish(VALID, url)
    trusted = tmp_path / "small.checkpoint"
    trusted.write_bytes(embedded_checkpoint(VALID, SMALL))
    receipt = tmp_path / "r.tlog-proof"
    assert run("tally", url, "--pub", str(pub), "--json").exit_code == 0
    assert run("consistency", url, "--trusted", str(trusted), "--pub", str(pub)).exit_code == 0
    proved = run("prove", url, "5", "-o", str(receipt))
    assert proved.exit_code == 0, proved.output
    assert run("check-proof", str(receipt), "--pub", str(pub)).exit_code == 0
    mirror_key = tmp_path / "mirror.key"
    mirror_key.write_text(format_signer_key(witness_key("mirror.example.org/copy")) + "\n",
                          encoding="ascii")
    mirror_key.chmod(0o600)
    pulled = run("mirror", "pull", str(tmp_path / "copy"), "--source", url, "--pub", str(pub),
                 "--key", str(mirror_key), "--workers", "1", "--json")
    assert pulled.exit_code == 0, pulled.output
    copy = tmp_path / "copy" / origin_dir_name(PUBLISHER.name)
    assert files_under(copy / "tile") == files_under(VALID / "tile")


# --- incremental, and never listing the bucket --------------------------------------------------


def test_republishing_uploads_only_the_new_files_and_reads_only_the_new_entries(
        aws: S3Server, small_site: Path, request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    url = f"s3://{BUCKET}/{prefix}"
    first = publish(small_site, url)
    assert sorted(aws.puts(prefix)) == sorted(f"{prefix}/{p}" for p in first.paths_written)
    before = files_under(aws.folder(prefix))
    source = ReadingSource(VALID)
    grown = publish(source, url)
    # only the entries after the old size are tiled (the tiles at its edge come from the
    # source); the election record is read for the page; a revoke among the new entries names
    # a key registered before, which no file of a published tree maps to its station, so the
    # station index is derived again from every entry
    assert source.starts == [0, SMALL, 0]
    new = {p for p, data in published_files(VALID).items() if before.get(p) != data}
    uploads = aws.puts(prefix)[len(first.paths_written):]
    assert sorted(uploads) == sorted(f"{prefix}/{p}" for p in new)  # counted by the server
    assert set(grown.paths_written) == new
    assert grown.paths_written[-1] == "checkpoint"
    again = publish(VALID, url)
    assert again.paths_written == ()
    assert len(aws.puts(prefix)) == len(first.paths_written) + len(new)


def test_a_tile_removed_behind_the_publishers_back_is_uploaded_again(
        aws: S3Server, request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    url = f"s3://{BUCKET}/{prefix}"
    publish(VALID, url)
    # the right edge of the checkpoint there
    s3_client(aws).delete_object(Bucket=BUCKET, Key=f"{prefix}/tile/0/001.p/52")
    again = publish(VALID, url)
    assert "tile/0/001.p/52" in again.paths_written
    assert files_under(aws.folder(prefix)) == published_files(VALID)


def test_a_fork_of_the_checkpoint_in_the_bucket_is_not_published_over(
        aws: S3Server, small_site: Path, request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    url = f"s3://{BUCKET}/{prefix}"
    publish(small_site, url)
    signer = parse_signer_key(KEYS["publisher"]["skey"])
    forked = sign_note(format_checkpoint(Checkpoint(origin=PUBLISHER.name, size=SMALL,
                                                    root=bytes(32))), [signer])
    bucket = S3Bucket(url)
    try:
        bucket.put("checkpoint", forked, content_type="text/plain", cache_control="no-cache")
    finally:
        bucket.close()
    with pytest.raises(ConsistencyError, match="fork"):
        publish(VALID, url)
    assert (aws.folder(prefix) / "checkpoint").read_bytes() == forked


# --- errors: exit 4 when the store cannot be read, 1 when what it serves is wrong -------------


def test_a_store_that_does_not_answer_is_exit_4_never_a_verdict_on_the_log(
        tmp_path: Path, pub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply(monkeypatch, aws_settings(tmp_path / "aws", f"http://127.0.0.1:{free_port()}"))
    done = run("verify", f"s3://{BUCKET}/nothing", "--pub", str(pub))
    assert done.exit_code == 4, done.output
    assert "127.0.0.1" in done.output


def test_refused_credentials_are_exit_4_for_readers_and_for_the_publisher(
        server: S3Server, tmp_path: Path, pub: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    apply(monkeypatch, aws_settings(tmp_path / "aws", server.endpoint, secret="not-the-secret"))
    url = f"s3://{BUCKET}/{prefix_of(request)}"
    read = run("verify", url, "--pub", str(pub))
    assert read.exit_code == 4, read.output
    assert "SignatureDoesNotMatch" in read.output or "Access" in read.output
    written = run("publish", str(VALID), url)
    assert written.exit_code == 4, written.output


def test_a_prefix_with_no_checkpoint_is_not_a_log_exit_2(
        aws: S3Server, pub: Path, request: pytest.FixtureRequest) -> None:
    done = run("verify", f"s3://{BUCKET}/{prefix_of(request)}", "--pub", str(pub))
    assert done.exit_code == 2, done.output
    assert "not a log" in done.output


def test_a_tampered_tile_in_the_bucket_is_exit_1_naming_it(
        aws: S3Server, pub: Path, request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    url = f"s3://{BUCKET}/{prefix}"
    publish(VALID, url)
    damaged = bytearray((VALID / "tile/0/000").read_bytes())
    damaged[40] ^= 1
    s3_client(aws).put_object(Bucket=BUCKET, Key=f"{prefix}/tile/0/000", Body=bytes(damaged))
    done = run("verify", url, "--pub", str(pub), "--json")
    assert done.exit_code == 1, done.output
    assert "tile/0/000" in done.stdout


def test_an_object_over_the_size_limit_is_refused_without_reading_it(
        aws: S3Server, request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    publish(VALID, f"s3://{BUCKET}/{prefix}")
    s3_client(aws).put_object(Bucket=BUCKET, Key=f"{prefix}/tile/0/000",
                              Body=b"\0" * (MAX_TILE_BYTES * 64))
    with (S3Source(f"s3://{BUCKET}/{prefix}") as source,
          pytest.raises(MalformedError, match="larger than the 8192-byte limit") as caught):
        source.read_tile(0, 0, 256)
    assert caught.value.code == "too-large"


# --- kill -9 ------------------------------------------------------------------------------------


def _publishing(source: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*LEDGER, "publish", str(source), url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_9_at_random_moments_leaves_a_bucket_that_verifies_and_the_next_publish_completes(
        aws: S3Server, small_site: Path, request: pytest.FixtureRequest) -> None:
    prefix = prefix_of(request)
    rng = random.Random(16)
    started = time.monotonic()
    assert _publishing(small_site, f"s3://{BUCKET}/{prefix}").wait(timeout=60) == 0
    took = time.monotonic() - started
    mid_upload = 0
    for round_ in range(4):  # bounded: four kills, half of them once uploading has begun
        uploaded = len(aws.puts(prefix))
        process = _publishing(VALID, f"s3://{BUCKET}/{prefix}")
        if round_ % 2:
            deadline = time.monotonic() + took + 10
            wanted = uploaded + rng.randint(1, 3)
            while len(aws.puts(prefix)) < wanted and time.monotonic() < deadline:  # bounded
                time.sleep(0.002)
        else:
            time.sleep(rng.uniform(0.05, took))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        size = bucket_size(aws, prefix)
        assert size in (SMALL, FULL)
        mid_upload += size == SMALL and len(aws.puts(prefix)) > uploaded
        with S3Source(f"s3://{BUCKET}/{prefix}") as source:
            report = verify(source, PUBLISHER, workers=1)
        assert report.ok, report.errors
        assert report.tree_size == size
        if size == FULL:  # done before the kill: a new bucket prefix at the small tree
            prefix = f"{prefix_of(request)}-{round_}"
            assert _publishing(small_site, f"s3://{BUCKET}/{prefix}").wait(timeout=60) == 0
    assert mid_upload > 0  # some kills did land between the first upload and the checkpoint
    assert _publishing(VALID, f"s3://{BUCKET}/{prefix}").wait(timeout=60) == 0
    assert bucket_size(aws, prefix) == FULL
    assert files_under(aws.folder(prefix)) == published_files(VALID)
