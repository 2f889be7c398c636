"""Readers of a log: published directory, http(s) URL (a real server on 127.0.0.1), ledger dir."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import ledger.sources.http as sources
from ledger.core.hashing import leaf_hash
from ledger.core.merkle import root_from_nodes
from ledger.errors import InputError, MalformedError, SourceUnavailableError
from ledger.formats.keys import parse_verifier_key
from ledger.formats.records import Block, Election, decode_entry_record
from ledger.formats.tiles import bundles_for_size, parse_entry_bundle, tiles_for_size
from ledger.publisher.page import PageTrust, page_files
from ledger.sources.http import HttpSource
from ledger.sources.ledger_dir import LedgerDirSource
from ledger.sources.open import open_source
from ledger.sources.published import PublishedDirSource
from ledger.sources.source import Source
from ledger.store.store import Commit, NewEntry, Store
from tests.conftest import GOLDEN_DIR, load_json

VALID = GOLDEN_DIR / "valid"
SMALL = GOLDEN_DIR / "valid-small"
REJECT = GOLDEN_DIR / "reject"
EXPECTED = load_json(VALID / "expected.json")


def golden_entries(directory: Path, size: int) -> list[bytes]:
    entries: list[bytes] = []
    for ref in bundles_for_size(size):
        entries += parse_entry_bundle((directory / ref.path).read_bytes(), ref.width)
    return entries


def published_files(directory: Path) -> dict[str, bytes]:
    """Every file a publish writes (the golden folders also hold receipts and expected.json)."""
    files = {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in (directory / "tile").rglob("*")
        if p.is_file()
    }
    for name in ("checkpoint", "ledger.json"):
        files[name] = (directory / name).read_bytes()
    return files | page_files_of(directory)


def page_files_of(directory: Path) -> dict[str, bytes]:
    """The observer's page a publish of the golden ``directory`` writes beside its tiles."""
    vkey = parse_verifier_key(json.loads((directory / "ledger.json").read_text())["vkey"])
    size = int((directory / "checkpoint").read_bytes().split(b"\n")[1])
    first = next(iter(PublishedDirSource(directory).iter_entries(0, size)))
    election = decode_entry_record(first)[1]
    assert isinstance(election, Election)
    return page_files(PageTrust(vkey=vkey, election=election))


def publisher_only(note: bytes) -> bytes:
    """A checkpoint note with its witness cosignature lines dropped (what a block embeds)."""
    body, _, sigs = note.partition(b"\n\n")
    origin = body.split(b"\n", 1)[0]
    keep = [line for line in sigs.splitlines() if line.startswith("— ".encode() + origin + b" ")]
    return body + b"\n\n" + b"".join(line + b"\n" for line in keep)


def golden_blocks(directory: Path, size: int) -> list[tuple[list[bytes], bytes]]:
    """A golden log cut into blocks: each block's entries and the checkpoint its seal signed."""
    entries = golden_entries(directory, size)
    ends = [i + 1 for i, e in enumerate(entries) if isinstance(decode_entry_record(e)[1], Block)]
    notes = []
    for end in ends[1:]:
        block = decode_entry_record(entries[end - 1])[1]
        assert isinstance(block, Block)
        assert block.checkpoint is not None
        notes.append(block.checkpoint.encode())
    notes.append(publisher_only((directory / "checkpoint").read_bytes()))
    return [(entries[s:e], note) for s, e, note in zip([0, *ends], ends, notes, strict=False)]


def commit_blocks(store: Store, blocks: list[tuple[list[bytes], bytes]]) -> None:
    """Append whole blocks to ``store`` as the publisher's Ledger would (no lookup keys)."""
    for block_entries, note in blocks:
        size, height = store.size(), store.block_count()
        last = len(block_entries) - 1
        batch = tuple(
            NewEntry(data=e, leaf_hash=leaf_hash(e), block=height if i == last else None)
            for i, e in enumerate(block_entries)
        )
        store.commit(Commit(size=size, entries=batch, checkpoint=note))


def golden_ledger(directory: Path, target: Path, size: int) -> Store:
    """An LMDB ledger holding a golden log's entries, block checkpoints and cosigned checkpoint."""
    vkey = load_json(directory / "ledger.json")["vkey"]
    store = Store.create(target, {"vkey": vkey.encode()})
    commit_blocks(store, golden_blocks(directory, size))
    store.put_meta("cosigned_checkpoint", (directory / "checkpoint").read_bytes())
    return store


# --- a published directory ------------------------------------------------------------------


def test_published_dir_reads_checkpoint_tiles_and_entries() -> None:
    source = PublishedDirSource(VALID)
    size = EXPECTED["tree_size"]
    assert source.read_checkpoint() == (VALID / "checkpoint").read_bytes()
    entries = list(source.iter_entries(0, size))
    assert len(entries) == size
    assert list(source.iter_entries(200, size)) == entries[200:]
    assert list(source.iter_entries(size, size)) == []
    assert source.entry_count() is None
    assert source.publisher_vkey() == EXPECTED["vkey"]
    assert "published directory" in source.describe()


def test_published_dir_node_reader_gives_every_checkpoint_root() -> None:
    source = PublishedDirSource(VALID)
    for cp in EXPECTED["checkpoints"]:
        reader = source.node_reader(cp["tree_size"])
        assert root_from_nodes(reader, cp["tree_size"]).hex() == cp["root_hex"]


def test_published_dir_missing_partial_tile_named() -> None:
    source = PublishedDirSource(REJECT / "partial-hash-tile-missing")
    assert source.read_tile_if_present(0, 0, 68) is None
    with pytest.raises(MalformedError) as e:
        source.read_tile(0, 0, 68)
    assert (e.value.category, e.value.where.file) == ("tiles", "tile/0/000.p/68")
    with pytest.raises(MalformedError) as e:
        root_from_nodes(source.node_reader(68), 68)
    assert e.value.where.file == "tile/0/000.p/68"


def test_published_dir_missing_bundle_named() -> None:
    source = PublishedDirSource(REJECT / "partial-entry-bundle-missing")
    assert source.read_entry_bundle_if_present(0, 68) is None
    with pytest.raises(MalformedError) as e:
        list(source.iter_entries(0, 68))
    assert (e.value.category, e.value.where.file) == ("tiles", "tile/entries/000.p/68")


def test_published_dir_truncated_bundle_named() -> None:
    source = PublishedDirSource(REJECT / "entry-bundle-truncated")
    with pytest.raises(MalformedError) as e:
        list(source.iter_entries(0, 68))
    assert (e.value.category, e.value.where.file) == ("tiles", "tile/entries/000.p/68")


def test_published_dir_short_tile_named(tmp_path: Path) -> None:
    shutil.copytree(SMALL, tmp_path / "pub")
    tile = tmp_path / "pub" / "tile/0/000.p/47"
    tile.write_bytes(tile.read_bytes()[:-1])
    source = PublishedDirSource(tmp_path / "pub")
    with pytest.raises(MalformedError) as e:
        source.read_tile(0, 0, 47)
    assert (e.value.code, e.value.where.file) == ("tile-size", "tile/0/000.p/47")


def test_published_dir_missing_checkpoint_is_a_finding(tmp_path: Path) -> None:
    shutil.copytree(SMALL / "tile", tmp_path / "tile")
    source = open_source(str(tmp_path))
    with pytest.raises(MalformedError) as e:
        source.read_checkpoint()
    assert (e.value.category, e.value.where.file) == ("checkpoint", "checkpoint")


def test_oversized_checkpoint_refused(tmp_path: Path) -> None:
    (tmp_path / "checkpoint").write_bytes(b"x" * ((1 << 20) + 1))
    with pytest.raises(MalformedError) as e:
        PublishedDirSource(tmp_path).read_checkpoint()
    assert e.value.code == "too-large"


def test_bad_ledger_json_states_no_key(tmp_path: Path) -> None:
    (tmp_path / "ledger.json").write_bytes(b"\xff{")
    assert PublishedDirSource(tmp_path).publisher_vkey() is None
    (tmp_path / "ledger.json").write_text('["vkey"]')
    assert PublishedDirSource(tmp_path).publisher_vkey() is None


# --- open_source ----------------------------------------------------------------------------


def test_open_source_picks_the_reader(tmp_path: Path) -> None:
    assert isinstance(open_source(str(VALID)), PublishedDirSource)
    assert isinstance(open_source("http://127.0.0.1:1/log"), HttpSource)
    assert isinstance(open_source(str(VALID)), Source)
    with golden_ledger(SMALL, tmp_path / "ledger", 68):
        opened = open_source(str(tmp_path / "ledger"))
        assert isinstance(opened, LedgerDirSource)
        opened.close()


@pytest.mark.parametrize("spec", ["missing-dir", "a-file", "empty-dir", "ftp://example.org/x"])
def test_open_source_refuses_what_is_not_a_log(tmp_path: Path, spec: str) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(InputError):
        open_source(spec if "://" in spec else str(tmp_path / spec))


def test_http_source_refuses_odd_urls() -> None:
    for url in ["http://", "http://h/x?y=1", "http://h/x#f", "file:///etc"]:
        with pytest.raises(InputError):
            HttpSource(url)


# --- over HTTP, from a real server on 127.0.0.1 ---------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    """Serves the tree; under /fail/ every path but the checkpoint is a 500, under /deny/ a 403;
    under /flaky/ every other request is a 503; /gzip/ gzips; /bomb/ answers a gzip bomb and
    /badgz/ bytes that claim to be gzip; /trickle/ sends one byte every 0.2 s."""

    flaky_count = 0

    def do_GET(self) -> None:
        if self.path.startswith("/trickle/"):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(25):  # bounded: 5 s at most, far past the test's deadline
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
            return
        if self.path.startswith("/flaky/"):
            _Handler.flaky_count += 1
            if _Handler.flaky_count % 2:
                self.send_error(503, "busy")
                return
            self.path = self.path[len("/flaky") :]
        if self.path.startswith(("/bomb/", "/badgz/")):
            body = gzip.compress(bytes(1 << 20)) if self.path.startswith("/bomb/") else b"junk"
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        for prefix, status in (("/fail/", 500), ("/deny/", 403)):
            if self.path.startswith(prefix):
                if not self.path.endswith("/checkpoint"):
                    self.send_error(status, "no")
                    return
                self.path = self.path[len(prefix) - 1 :]
        if self.path.startswith("/gzip/"):
            local = Path(self.translate_path(self.path[len("/gzip") :]))
            if not local.is_file():
                self.send_error(404)
                return
            body = gzip.compress(local.read_bytes())
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    shutil.copytree(VALID, root / "valid")
    shutil.copytree(REJECT / "partial-hash-tile-missing", root / "no-tile")
    shutil.copytree(REJECT / "entry-bundle-truncated", root / "cut")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("prefix", ["", "/gzip"])
def test_http_gives_the_same_bytes_as_the_directory(server: str, prefix: str) -> None:
    size = EXPECTED["tree_size"]
    local = PublishedDirSource(VALID)
    remote = open_source(f"{server}{prefix}/valid")
    assert isinstance(remote, HttpSource)
    assert remote.read_checkpoint() == local.read_checkpoint()
    for tile in tiles_for_size(size):
        assert remote.read_tile(tile.level, tile.index, tile.width) == local.read_tile(
            tile.level, tile.index, tile.width
        )
    for bundle in bundles_for_size(size):
        assert remote.read_entry_bundle(bundle.index, bundle.width) == local.read_entry_bundle(
            bundle.index, bundle.width
        )
    assert list(remote.iter_entries(0, size)) == list(local.iter_entries(0, size))
    assert root_from_nodes(remote.node_reader(95), 95) == root_from_nodes(
        local.node_reader(95), 95
    )
    assert remote.publisher_vkey() == EXPECTED["vkey"]
    assert remote.describe().startswith("http://127.0.0.1:")


def test_http_checkpoint_404_means_not_a_log(server: str) -> None:
    with pytest.raises(InputError, match="404"):
        HttpSource(f"{server}/nothing-here").read_checkpoint()


def test_http_missing_tile_is_a_finding_naming_the_path(server: str) -> None:
    source = HttpSource(f"{server}/no-tile")
    assert source.read_tile_if_present(0, 0, 68) is None
    with pytest.raises(MalformedError) as e:
        source.read_tile(0, 0, 68)
    assert (e.value.category, e.value.where.file) == ("tiles", "tile/0/000.p/68")


def test_http_truncated_bundle_is_a_finding_naming_the_path(server: str) -> None:
    with pytest.raises(MalformedError) as e:
        list(HttpSource(f"{server}/cut").iter_entries(0, 68))
    assert e.value.where.file == "tile/entries/000.p/68"


def test_a_refused_fetch_is_a_finding_naming_the_path(server: str) -> None:
    source = HttpSource(f"{server}/deny/valid")
    assert source.read_checkpoint() == (VALID / "checkpoint").read_bytes()
    with pytest.raises(MalformedError) as e:
        source.read_tile(0, 0, 256)
    assert (e.value.code, e.value.category, e.value.where.file) == (
        "http-error", "tiles", "tile/0/000"
    )
    assert "403" in e.value.message


def test_a_server_that_keeps_failing_is_unavailable_after_bounded_retries(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "HTTP_RETRY_PAUSE", 0.01)
    source = HttpSource(f"{server}/fail/valid", attempts=3)
    with pytest.raises(SourceUnavailableError) as e:
        source.read_tile(0, 0, 256)
    assert (e.value.where.file, e.value.where.source) == ("tile/0/000", f"{server}/fail/valid/")
    assert "failed 3 times" in e.value.message
    assert "500" in e.value.message


def test_a_transient_503_is_retried_and_the_bytes_arrive(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "HTTP_RETRY_PAUSE", 0.01)
    source = HttpSource(f"{server}/flaky/valid", attempts=2)
    for _ in range(3):
        assert source.read_checkpoint() == (VALID / "checkpoint").read_bytes()


def test_a_server_trickling_bytes_cannot_hang_the_reader(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each read gets a byte well within the per-read time-out; only the per-file deadline
    # ends it.
    monkeypatch.setattr(sources, "HTTP_RETRY_PAUSE", 0.01)
    source = HttpSource(f"{server}/trickle/valid", attempts=1, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match="no whole answer within 1 s"):
        source.read_checkpoint()
    assert time.monotonic() - started < 3


def test_a_closed_port_is_unavailable_not_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "HTTP_RETRY_PAUSE", 0.01)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SourceUnavailableError):
        HttpSource(f"http://127.0.0.1:{port}/log", attempts=2).read_checkpoint()


@pytest.mark.parametrize(("prefix", "code"), [("bomb", "too-large"), ("badgz", "bad-gzip")])
def test_http_gzip_bomb_and_junk_refused(server: str, prefix: str, code: str) -> None:
    with pytest.raises(MalformedError) as e:
        HttpSource(f"{server}/{prefix}").read_tile(0, 0, 256)
    assert (e.value.code, e.value.where.file) == (code, "tile/0/000")


# --- a ledger directory ---------------------------------------------------------------------


def test_ledger_dir_serves_the_golden_tiles_and_bundles(tmp_path: Path) -> None:
    size = EXPECTED["tree_size"]
    store = golden_ledger(VALID, tmp_path / "ledger", size)
    with store, LedgerDirSource(tmp_path / "ledger") as source:
        assert source.read_checkpoint() == (VALID / "checkpoint").read_bytes()
        assert source.entry_count() == size
        assert source.publisher_vkey() == EXPECTED["vkey"]
        for tile in tiles_for_size(size):
            path = VALID / tile.path
            assert source.read_tile(tile.level, tile.index, tile.width) == path.read_bytes()
        for bundle in bundles_for_size(size):
            got = source.read_entry_bundle(bundle.index, bundle.width)
            assert got == (VALID / bundle.path).read_bytes()
        assert list(source.iter_entries(250, size)) == golden_entries(VALID, size)[250:]
        assert root_from_nodes(source.node_reader(size), size).hex() == EXPECTED["root_hex"]


def test_ledger_dir_unsealed_tail_is_readable(tmp_path: Path) -> None:
    store = golden_ledger(SMALL, tmp_path / "ledger", 68)
    with store:
        tail = [b"tail entry 1", b"tail entry 2"]
        store.commit(Commit(size=68, entries=tuple(
            NewEntry(data=e, leaf_hash=leaf_hash(e)) for e in tail)))
        source = LedgerDirSource.from_store(store)
        assert source.entry_count() == 70
        assert list(source.iter_entries(68, 70)) == tail
        assert source.read_checkpoint() == (SMALL / "checkpoint").read_bytes()
        with pytest.raises(MalformedError) as e:
            list(source.iter_entries(0, 71))
        assert e.value.code == "missing-entries"


def test_ledger_dir_without_cosignatures_serves_the_publisher_checkpoint(tmp_path: Path) -> None:
    store = golden_ledger(SMALL, tmp_path / "ledger", 68)
    with store:
        store.put_meta("cosigned_checkpoint", b"an older, other checkpoint\n\nsig\n")
        note = LedgerDirSource.from_store(store).read_checkpoint()
        assert note == publisher_only((SMALL / "checkpoint").read_bytes())


def test_ledger_dir_before_the_first_seal_has_no_checkpoint(tmp_path: Path) -> None:
    with Store.create(tmp_path / "ledger", {}) as store:
        with pytest.raises(MalformedError) as e:
            LedgerDirSource.from_store(store).read_checkpoint()
        assert e.value.category == "checkpoint"


# --- the auditor's readers never load lmdb --------------------------------------------------


def test_reading_a_published_tree_never_imports_lmdb() -> None:
    code = (
        "import importlib.util, sys\n"
        "import ledger.sources.open, ledger.formats.tiles, ledger.publisher.publish\n"
        "if importlib.util.find_spec('ledger.auditor.verify'): import ledger.auditor.verify\n"
        "s = ledger.sources.open.open_source(sys.argv[1])\n"
        "n = sum(1 for _ in s.iter_entries(0, 308))\n"
        "assert n == 308, n\n"
        "assert 'lmdb' not in sys.modules, 'lmdb was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code, str(VALID)], check=True, timeout=120)
