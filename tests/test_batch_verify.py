"""Signatures checked in chunks on worker processes: the same verdicts as one by one."""

from __future__ import annotations

import pytest

from ledger.check.checker import EntryChecker
from ledger.check.signatures import SignaturePool, check_entries, verified_chunks
from ledger.core.hashing import key_id
from ledger.formats.records import Station, decode_entry_record
from ledger.formats.signing import is_valid_signature
from ledger.sources.published import PublishedDirSource
from tests.verify_support import PUBLISHER, VALID

PUBLISHER_KEY_ID = key_id(PUBLISHER.public_key)


def _entries() -> list[bytes]:
    source = PublishedDirSource(VALID)
    size = int(source.read_checkpoint().split(b"\n")[1])
    return list(source.iter_entries(0, size))


def _checker() -> EntryChecker:
    return EntryChecker(origin=PUBLISHER.name, publisher=PUBLISHER)


PREFIX = _checker().message_prefix


def _keys_by_id() -> dict[bytes, bytes]:
    """Every signer's public key by key id: the publisher's and each station record's."""
    keys = {PUBLISHER_KEY_ID: PUBLISHER.public_key}
    for data in _entries():
        record = decode_entry_record(data)[1]
        if isinstance(record, Station):
            keys[record.key_id] = record.pubkey
    return keys


def _damaged(datas: list[bytes]) -> list[bytes]:
    """Every third entry with its last signature byte flipped, and two that are not entries."""
    out = [d[:-4] + bytes([d[-4] ^ 1]) + d[-3:] if i % 3 == 1 else d for i, d in enumerate(datas)]
    return [*out, b"not an entry", bytes(200)]


def test_chunk_verdicts_are_the_one_by_one_verdicts() -> None:
    datas = _damaged(_entries())
    checker = _checker()
    keys = checker.signature_keys(datas)  # station keys learned in the same batch
    assert all(key is not None for key in keys[:-2])
    verdicts = check_entries(checker.message_prefix, b"".join(datas), [len(d) for d in datas],
                             keys)
    assert verdicts[:-2] == [_one_by_one(d) for d in datas[:-2]]
    assert verdicts[-2:] == [None, None]
    assert verdicts.count(False) == len(range(1, len(datas) - 2, 3))
    assert all(v is True for i, v in enumerate(verdicts[:-2]) if i % 3 != 1)


def _one_by_one(data: bytes) -> bool:
    """The verdict of checking entry ``data`` in this process, with its signer's known key."""
    entry, _record = decode_entry_record(data)
    public_key = _keys_by_id()[entry.key]
    return is_valid_signature(public_key, PREFIX + entry.body, entry.sig)


def test_an_entry_without_a_key_gets_no_verdict() -> None:
    data = _entries()[3]
    checker = _checker()
    assert check_entries(checker.message_prefix, data, [len(data)], [None]) == [None]


def test_the_pool_gives_the_verdicts_of_this_process() -> None:
    datas = _damaged(_entries())
    checker = _checker()
    keys = checker.signature_keys(datas)
    here = check_entries(checker.message_prefix, b"".join(datas), [len(d) for d in datas], keys)
    with SignaturePool(2) as pool:
        waits = [pool.submit_entries(checker.message_prefix, datas[i:i + 16], keys[i:i + 16])
                 for i in range(0, len(datas), 16)]
        pooled = [v for wait in waits for v in wait()]
    assert pooled == here


def test_verified_chunks_come_back_in_order_with_their_verdicts() -> None:
    datas = _damaged(_entries())
    here = check_entries(PREFIX, b"".join(datas), [len(d) for d in datas],
                         _checker().signature_keys(datas))
    chunks = [datas[i:i + 7] for i in range(0, len(datas), 7)]
    with SignaturePool(2) as pool:
        got = list(verified_chunks(_checker(), iter(chunks), pool, in_flight=2))
    assert [chunk for chunk, _ in got] == chunks
    assert [v for _, results in got for v in results or []] == here
    assert list(verified_chunks(_checker(), iter(chunks), None, in_flight=2)) == [
        (chunk, None) for chunk in chunks]


def test_the_pool_refuses_mismatched_keys_and_work_after_close() -> None:
    pool = SignaturePool(1)
    with pytest.raises(ValueError, match="keys"):
        pool.submit_entries(b"", [b"a", b"b"], [None])
    pool.close()
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.submit_entries(b"", [b"a"], [None])
    with pytest.raises(ValueError, match="at least 1"):
        SignaturePool(0)
