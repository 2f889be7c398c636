"""Signatures checked in chunks on worker processes: the same verdicts as one by one."""

from __future__ import annotations

import pytest

from ledger.batch_verify import SignaturePool, check_entries, check_jobs
from ledger.checker import EntryChecker
from ledger.sources import PublishedDirSource
from tests.verify_support import PUBLISHER, VALID


def _entries() -> list[bytes]:
    source = PublishedDirSource(VALID)
    size = int(source.read_checkpoint().split(b"\n")[1])
    return list(source.iter_entries(0, size))


def _checker() -> EntryChecker:
    return EntryChecker(origin=PUBLISHER.name, publisher=PUBLISHER)


def _damaged(datas: list[bytes]) -> list[bytes]:
    """Every third entry with its last signature byte flipped, and two that are not entries."""
    out = [d[:-4] + bytes([d[-4] ^ 1]) + d[-3:] if i % 3 == 1 else d for i, d in enumerate(datas)]
    return [*out, b"not an entry", bytes(200)]


def test_signature_keys_are_the_keys_of_the_signature_jobs() -> None:
    datas = _damaged(_entries())
    by_job, by_key = _checker(), _checker()  # each in log order, from the start
    jobs = [by_job.signature_job(d) for d in datas]
    keys = by_key.signature_keys(datas)
    assert keys[:-2] == [None if job is None else job[0] for job in jobs[:-2]]
    assert all(key is not None for key in keys[:-2])  # station keys learned in the same batch


def test_chunk_verdicts_are_the_one_by_one_verdicts() -> None:
    datas = _damaged(_entries())
    checker = _checker()
    keys = checker.signature_keys(datas)
    verdicts = check_entries(checker.message_prefix, b"".join(datas), [len(d) for d in datas],
                             keys)
    by_job = _checker()
    expected = check_jobs([by_job.signature_job(d) for d in datas])
    assert verdicts[:-2] == expected[:-2]
    assert verdicts[-2:] == [None, None]
    assert verdicts.count(False) == len(datas[:-2]) // 3
    assert all(v is True for i, v in enumerate(verdicts[:-2]) if i % 3 != 1)


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
        assert pool.submit([None])() == [None]
    assert pooled == here


def test_the_pool_refuses_mismatched_keys_and_work_after_close() -> None:
    pool = SignaturePool(1)
    with pytest.raises(ValueError, match="keys"):
        pool.submit_entries(b"", [b"a", b"b"], [None])
    pool.close()
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.submit([None])
    with pytest.raises(ValueError, match="at least 1"):
        SignaturePool(0)
