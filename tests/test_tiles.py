"""tlog-tiles maths: paths, tile and bundle bytes, the streaming builder, the tile node reader."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.hashing import EMPTY_ROOT, leaf_hash, node_hash
from ledger.errors import MalformedError
from ledger.formats.tiles import (
    TILE_WIDTH,
    BundleId,
    TileId,
    TileNodeReader,
    bundle_path,
    bundles_for_size,
    check_published,
    format_entry_bundle,
    format_hash_tile,
    parse_entry_bundle,
    parse_hash_tile,
    parse_tile_path,
    partial_tiles_for_size,
    tile_levels,
    tile_path,
    tile_width,
    tiles_for_size,
)
from ledger.publisher.tile_export import TileBuilder, build_tiles
from tests.conftest import GOLDEN_DIR, doc_section, load_json, run_doc_examples

# --- a naive reference (RFC 9162 2.1.1, recursive) ------------------------------------------


def naive_root(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def leaves_for(n: int) -> list[bytes]:
    return [leaf_hash(b"entry %d" % i) for i in range(n)]


def tree_tiles(leaves: list[bytes]) -> dict[tuple[int, int], list[bytes]]:
    """Every tile of the tree as (level, index) -> hashes, computed naively from the leaves."""
    out: dict[tuple[int, int], list[bytes]] = {}
    for tile in tiles_for_size(len(leaves)):
        span = TILE_WIDTH**tile.level
        first = tile.index * TILE_WIDTH
        out[(tile.level, tile.index)] = [
            naive_root(leaves[(first + i) * span : (first + i + 1) * span])
            for i in range(tile.width)
        ]
    return out


# --- paths ----------------------------------------------------------------------------------


def test_c2sp_path_examples_format_and_parse(spec_vectors: dict[str, Any]) -> None:
    for ex in spec_vectors["tiles"]["c2sp_path_examples"]:
        assert tile_path(ex["level"], ex["index"], ex["width"]) == ex["path"]
        assert parse_tile_path(ex["path"]) == TileId(
            level=ex["level"], index=ex["index"], width=ex["width"]
        )


def test_bundle_paths_share_the_index_spelling() -> None:
    assert bundle_path(0, 61) == "tile/entries/000.p/61"
    assert bundle_path(1234067) == "tile/entries/x001/x234/067"
    assert parse_tile_path("tile/entries/x001/000.p/5") == BundleId(index=1000, width=5)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/00",  # not 3 digits
        "tile/0/0000",
        "tile/0/x000/001",  # redundant leading group
        "tile/00/000",  # level with a leading zero
        "tile/64/000",  # level over 63
        "tile/0/000.p/256",  # a full tile has no .p
        "tile/0/000.p/0",
        "tile/0/000.p/01",
        "tile/0/000.p/",
        "tile/0/001/002",  # inner element without x
        "tile/0/x001",  # last element with x
        "tile/0/000/",
        "/tile/0/000",
        "tile/data/000",
        "tile/-1/000",
        "tile/0/-01",
        "tile/0/00a",
        "tile/entries/000.p/300",
        "tile/0/000.p/5\n",
        "tile/0/" + "x999/" * 1500 + "999",  # an index far past 64 bits
        "tile/0/x001/x000/x000/x000/x000/x000/x000/000",
    ],
)
def test_noncanonical_tile_path_rejected(path: str) -> None:
    with pytest.raises(MalformedError) as e:
        parse_tile_path(path)
    assert e.value.category == "tiles"


def test_go_sumdb_paths_are_not_c2sp(spec_vectors: dict[str, Any]) -> None:
    for ex in spec_vectors["tiles"]["go_sumdb_tile_paths_NOT_c2sp"]:
        with pytest.raises(MalformedError):
            parse_tile_path(ex["path"])


@given(
    level=st.integers(0, 63),
    index=st.integers(0, 10**15),
    width=st.integers(1, 256),
    entries=st.booleans(),
)
@settings(max_examples=300)
def test_path_round_trip(level: int, index: int, width: int, entries: bool) -> None:
    ref = BundleId(index=index, width=width) if entries else TileId(
        level=level, index=index, width=width
    )
    assert parse_tile_path(ref.path) == ref


def test_tile_ids_refuse_bad_arguments() -> None:
    for kwargs in ({"level": 64, "index": 0}, {"level": 0, "index": -1},
                   {"level": 0, "index": 0, "width": 0}, {"level": 0, "index": 0, "width": 257}):
        with pytest.raises(ValueError):
            TileId(**kwargs)


# --- which tiles a size needs ---------------------------------------------------------------


def test_c2sp_spec_tile_counts(spec_vectors: dict[str, Any]) -> None:
    for ex in spec_vectors["tiles"]["c2sp_spec_examples"]:
        size = ex["tree_size"]
        tiles = list(tiles_for_size(size))
        assert tile_levels(size) == len(ex["tiles"])
        for level_ex in ex["tiles"]:
            at = [t for t in tiles if t.level == level_ex["level"]]
            assert sum(t.width == TILE_WIDTH for t in at) == level_ex["full_tiles"]
            partial = [t.width for t in at if t.width < TILE_WIDTH]
            assert partial == ([level_ex["partial_width"]] if level_ex["partial_width"] else [])


def test_empty_tree_has_no_tiles() -> None:
    assert list(tiles_for_size(0)) == []
    assert list(bundles_for_size(0)) == []
    assert partial_tiles_for_size(0) == []


def test_tile_width_refuses_tiles_beyond_the_tree() -> None:
    assert tile_width(0, 1, 300) == 44
    assert tile_width(1, 0, 300) == 1
    with pytest.raises(ValueError):
        tile_width(0, 2, 300)
    with pytest.raises(ValueError):
        tile_width(2, 0, 300)


def test_bundles_from_a_start_index() -> None:
    assert [b.path for b in bundles_for_size(600, 300)] == [
        "tile/entries/001",
        "tile/entries/002.p/88",
    ]
    with pytest.raises(ValueError):
        list(bundles_for_size(10, 11))


# --- tile and bundle bytes ------------------------------------------------------------------


def test_tessera_testdata_tiles(spec_vectors: dict[str, Any]) -> None:
    log = next(c for c in spec_vectors["checkpoint"] if c.get("id") == "tessera-testdata-log")
    entries = [e.encode() for e in log["entries_utf8"]]
    tiles = build_tiles(entries)
    assert tiles[log["entry_bundle_path"]].hex() == log["entry_bundle_hex"]
    assert tiles[log["level0_tile_path"]].hex() == log["level0_tile_hex"]
    roots = {cp["tree_size"]: cp["root_hex"] for cp in log["checkpoints"]}
    builder = TileBuilder()
    assert builder.root().hex() == roots[0]
    for entry in entries:
        builder.append(entry)
        if builder.size in roots:
            assert builder.root().hex() == roots[builder.size]


def test_sunlight_mirror_300_tiles(spec_vectors: dict[str, Any]) -> None:
    mirror = next(
        c for c in spec_vectors["cosignature"] if c.get("id") == "sunlight-skylight-mirror"
    )["tree"]
    entries = [b"record %d" % i for i in range(mirror["tree_size"])]
    tiles = build_tiles(entries)
    builder = TileBuilder()
    for entry in entries:
        builder.append(entry)
    assert builder.root().hex() == mirror["root_hex"]
    for path, want in mirror["tiles"].items():
        got = tiles[path]
        assert len(got) == want["len_bytes"]
        if "hex" in want:
            assert got.hex() == want["hex"]
        else:
            assert hashlib.sha256(got).hexdigest() == want["sha256_of_file"]
            assert got[:32].hex() == want["first_hash"]
            assert got[-32:].hex() == want["last_hash"]


def golden_files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in (directory / "tile").rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("name", ["valid", "valid-small"])
def test_golden_tiles_rebuilt_byte_for_byte(name: str) -> None:
    directory = GOLDEN_DIR / name
    expected = load_json(GOLDEN_DIR / "valid" / "expected.json")
    cases = load_json(GOLDEN_DIR / "reject" / "cases.json")
    block_indices = expected["block_indices"] if name == "valid" else cases["base_block_indices"]
    size = block_indices[-1] + 1
    entries: list[bytes] = []
    for ref in bundles_for_size(size):
        data = (directory / ref.path).read_bytes()
        entries += parse_entry_bundle(data, ref.width, path=ref.path)
    sizes = [i + 1 for i in block_indices]
    assert build_tiles(entries, partial_sizes=sizes) == golden_files(directory)


def test_hash_tile_round_trip_and_size_checks() -> None:
    hashes = leaves_for(3)
    data = format_hash_tile(hashes)
    assert parse_hash_tile(data, 3) == hashes
    with pytest.raises(MalformedError) as e:
        parse_hash_tile(data[:-1], 3, path="tile/0/000.p/3")
    assert e.value.where.file == "tile/0/000.p/3"
    with pytest.raises(MalformedError):
        parse_hash_tile(data, 2)
    with pytest.raises(ValueError):
        format_hash_tile([])
    with pytest.raises(ValueError):
        format_hash_tile([b"short"])


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=40))
@settings(max_examples=100)
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    data = format_entry_bundle(entries)
    assert parse_entry_bundle(data, len(entries)) == entries


@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=10), st.data())
@settings(max_examples=100)
def test_truncated_bundle_rejected(entries: list[bytes], data: st.DataObject) -> None:
    whole = format_entry_bundle(entries)
    cut = data.draw(st.integers(0, len(whole) - 1))
    with pytest.raises(MalformedError) as e:
        parse_entry_bundle(whole[:cut], len(entries), path="tile/entries/000.p/9")
    assert e.value.category == "tiles"
    assert e.value.where.file == "tile/entries/000.p/9"


def test_bundle_with_extra_or_missing_entries_rejected() -> None:
    data = format_entry_bundle([b"a", b"b"])
    with pytest.raises(MalformedError):
        parse_entry_bundle(data, 1)
    with pytest.raises(MalformedError):
        parse_entry_bundle(data, 3)
    with pytest.raises(MalformedError):
        parse_entry_bundle(data + b"\x00", 2)


def test_oversized_entry_refused_by_the_writer() -> None:
    with pytest.raises(ValueError):
        format_entry_bundle([bytes(65536)])
    with pytest.raises(ValueError):
        TileBuilder().append(bytes(65536))
    assert parse_entry_bundle(format_entry_bundle([bytes(65535)]), 1) == [bytes(65535)]


def test_check_published_names_the_file_and_first_difference() -> None:
    tiles = build_tiles([b"e%d" % i for i in range(61)])
    ref = parse_tile_path("tile/0/000.p/61")
    good = tiles[ref.path]
    check_published(ref, good, good)
    bad = bytearray(good)
    bad[20 * 32 + 5] ^= 1
    with pytest.raises(MalformedError) as e:
        check_published(ref, bytes(bad), good)
    assert e.value.where.file == "tile/0/000.p/61"
    assert e.value.code == "tile-mismatch"
    assert "hash 20" in e.value.message
    bundle_ref = parse_tile_path("tile/entries/000.p/61")
    bundle = tiles[bundle_ref.path]
    with pytest.raises(MalformedError) as e:
        check_published(bundle_ref, bundle[:-10], bundle)
    assert "entry 59" in e.value.message  # the last 10 bytes held e60 and a byte of e59


# --- the streaming builder against the naive tree ------------------------------------------


@given(st.integers(0, 700))
@settings(max_examples=40, deadline=None)
def test_builder_tiles_and_root_match_naive(size: int) -> None:
    leaves = leaves_for(size)
    builder = TileBuilder()
    got: dict[tuple[int, int], list[bytes]] = {}
    for leaf in leaves:
        for ref, data in builder.append_leaf_hash(leaf):
            assert isinstance(ref, TileId)
            got[(ref.level, ref.index)] = parse_hash_tile(data, ref.width)
    for ref, data in builder.partials():
        assert isinstance(ref, TileId)
        got[(ref.level, ref.index)] = parse_hash_tile(data, ref.width)
    assert got == tree_tiles(leaves)
    assert builder.root() == naive_root(leaves)
    assert {r.path for r, _ in builder.partials()} == {
        r.path for r in partial_tiles_for_size(size) if isinstance(r, TileId)
    }


def test_builder_refuses_mixing_entries_and_leaf_hashes() -> None:
    builder = TileBuilder()
    builder.append(b"x")
    with pytest.raises(ValueError):
        builder.append_leaf_hash(leaf_hash(b"y"))


def test_partial_sizes_beyond_the_tree_refused() -> None:
    with pytest.raises(ValueError):
        build_tiles([b"a"], partial_sizes=[2])


# --- the tile-backed node reader ------------------------------------------------------------


def reader_over(leaves: list[bytes]) -> tuple[TileNodeReader, list[tuple[int, int, int]]]:
    tiles = {
        (ref.level, ref.index, ref.width): format_hash_tile(hashes)
        for (level, index), hashes in tree_tiles(leaves).items()
        for ref in [TileId(level=level, index=index, width=len(hashes))]
    }
    fetched: list[tuple[int, int, int]] = []

    def fetch(level: int, index: int, width: int) -> bytes:
        fetched.append((level, index, width))
        return tiles[(level, index, width)]

    return TileNodeReader(fetch, len(leaves)), fetched


@given(st.integers(1, 1100), st.data())
@settings(max_examples=40, deadline=None)
def test_tile_node_reader_matches_naive(size: int, data: st.DataObject) -> None:
    leaves = leaves_for(size)
    reader, _ = reader_over(leaves)
    for _ in range(5):
        level = data.draw(st.integers(0, size.bit_length() - 1))
        index = data.draw(st.integers(0, (size >> level) - 1))
        want = naive_root(leaves[index << level : (index + 1) << level])
        assert reader(level, index) == want


def test_tile_node_reader_reaches_level_two_tiles() -> None:
    size = 65536 + 300
    builder = TileBuilder()
    tiles: dict[tuple[int, int, int], bytes] = {}
    leaves = leaves_for(size)
    for leaf in leaves:
        for ref, data in builder.append_leaf_hash(leaf):
            assert isinstance(ref, TileId)
            tiles[(ref.level, ref.index, ref.width)] = data
    for ref, data in builder.partials():
        assert isinstance(ref, TileId)
        tiles[(ref.level, ref.index, ref.width)] = data
    reader = TileNodeReader(lambda lv, ix, w: tiles[(lv, ix, w)], size)
    assert reader(16, 0) == naive_root(leaves[:65536])
    assert reader(15, 1) == naive_root(leaves[32768:65536])
    assert reader(8, 256) == naive_root(leaves[65536 : 65536 + 256])
    assert reader(3, 8200) == naive_root(leaves[8200 * 8 : 8201 * 8])


def test_tile_node_reader_refuses_nodes_outside_the_tree() -> None:
    reader, _ = reader_over(leaves_for(10))
    for level, index in [(0, 10), (1, 5), (4, 0), (-1, 0), (0, -1)]:
        with pytest.raises(ValueError):
            reader(level, index)


def test_tile_node_reader_rejects_a_short_tile_naming_it() -> None:
    reader = TileNodeReader(lambda lv, ix, w: bytes(32 * w - 1), 61)
    with pytest.raises(MalformedError) as e:
        reader(0, 3)
    assert e.value.where.file == "tile/0/000.p/61"


def test_tile_node_reader_fetches_each_tile_once() -> None:
    reader, fetched = reader_over(leaves_for(600))
    for index in range(600):
        reader(0, index)
    assert sorted(set(fetched)) == sorted(fetched)


# --- the docs' examples run -----------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_api_doc_examples_run() -> None:

    failures, tried = run_doc_examples("api.md", "`ledger.formats.tiles`")
    assert tried >= 15
    assert failures == 0


def test_spec_example_lists_the_golden_published_files() -> None:
    text = doc_section("spec.md", "Published form")
    block = text.split("### Example", 1)[1].split("```", 2)[1]
    listed = {line.split()[0] for line in block.strip().splitlines()}
    small = GOLDEN_DIR / "valid-small"
    on_disk = {p.relative_to(small).as_posix() for p in small.rglob("*") if p.is_file()}
    assert listed == on_disk
    assert len((small / "tile/0/000.p/68").read_bytes()) == 68 * 32
