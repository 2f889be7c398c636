"""Split-view evidence: both forms made and checked offline, the committed vectors
(tests/vectors/split-view.json) reproduced and answered by `ledger check-evidence`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli as ledger_cli

from ledger.auditor.evidence import prefix_evidence, same_size_evidence
from ledger.core.hashing import leaf_hash
from ledger.formats.checkpoints import Checkpoint, format_checkpoint
from ledger.formats.keys import NoteSigner, note_signer_for
from ledger.formats.notes import sign_note
from ledger.formats.signing import Signer
from tests.merkle_reference import ref_proof, ref_root

VECTORS = Path(__file__).parent / "vectors" / "split-view.json"
ORIGIN = "evidence.example/election"
LOG = note_signer_for(ORIGIN, Signer(hashlib.sha256(b"split-view log").digest()))
OTHER = note_signer_for(ORIGIN, Signer(hashlib.sha256(b"another key").digest()))
LEAVES = [leaf_hash(b"record %d" % i) for i in range(16)]


def _note(size: int, root: bytes | None = None, key: NoteSigner = LOG) -> bytes:
    root = ref_root(LEAVES[:size]) if root is None else root
    return sign_note(format_checkpoint(Checkpoint(origin=ORIGIN, size=size, root=root)), [key])


def _path(m: int, n: int) -> list[bytes]:
    proof = ref_proof(m, LEAVES[:n])
    return [ref_root(LEAVES[:m]), *proof] if m & (m - 1) == 0 else proof


FORGED = hashlib.sha256(b"the other view").digest()


def make_vectors() -> dict[str, Any]:
    """Every form, proved and not, and files that are not evidence."""
    cases = [
        ("same-size-two-roots", same_size_evidence(_note(7, FORGED), _note(7)), 1),
        ("same-size-one-root", same_size_evidence(_note(7), _note(7)), 0),
        ("same-size-two-sizes", same_size_evidence(_note(6), _note(7)), 0),
        ("same-size-older-not-the-logs", same_size_evidence(_note(7, FORGED, OTHER), _note(7)),
         0),
        ("prefix-5-of-12-forked", prefix_evidence(_note(5, FORGED), _note(12), 5, _path(5, 12)),
         1),
        ("prefix-4-of-12-forked-seeded", prefix_evidence(_note(4, FORGED), _note(12), 4,
                                                          _path(4, 12)), 1),
        ("prefix-5-of-12-honest", prefix_evidence(_note(5), _note(12), 5, _path(5, 12)), 0),
        ("prefix-path-of-another-tree", prefix_evidence(_note(5, FORGED), _note(12, FORGED), 5,
                                                         _path(5, 12)), 0),
        ("prefix-size-not-the-older", prefix_evidence(_note(6, FORGED), _note(12), 5,
                                                       _path(5, 12)), 0),
        ("prefix-path-too-short", prefix_evidence(_note(5, FORGED), _note(12), 5,
                                                   _path(5, 12)[:-1]), 0),
        ("not-evidence-header", b"election-ledger/split-view@v2\nsame-size\n\n" + _note(7)
         + b"\n" + _note(7), 2),
        ("not-evidence-one-note", same_size_evidence(_note(7), b"")[:-1], 2),
        ("not-evidence-unknown-form", b"election-ledger/split-view@v1\nsuffix 3\n\n" + _note(7)
         + b"\n" + _note(7), 2),
    ]
    return {"vkey": str(LOG.verifier_key),
            "note": "exit: 1 proves the log equivocated, 0 proves nothing, 2 not evidence",
            "cases": [{"name": n, "file": f.decode(), "exit": e} for n, f, e in cases]}


def test_the_committed_vectors_are_the_ones_this_code_makes() -> None:
    assert json.loads(VECTORS.read_text(encoding="utf-8")) == make_vectors()


@pytest.mark.parametrize("case", make_vectors()["cases"], ids=lambda c: c["name"])
def test_check_evidence_answers_each_vector(case: dict[str, Any], tmp_path: Path) -> None:
    pub = tmp_path / "log.pub"
    pub.write_text(make_vectors()["vkey"] + "\n", encoding="ascii")
    evidence = tmp_path / "evidence.txt"
    evidence.write_bytes(case["file"].encode())
    result = CliRunner().invoke(ledger_cli, ["check-evidence", str(evidence), "--pub", str(pub)])
    assert result.exit_code == case["exit"], result.output
    if case["exit"] == 1:
        assert result.output.startswith("PROVED: ")
    elif case["exit"] == 0:
        assert result.output.startswith("proves nothing: ")
