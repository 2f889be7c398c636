"""Shared fixtures: where the spec vectors and the real AEP data live.

The golden vectors are always the copy committed under ``tests/vectors/``: the suite tests the
formats this checkout implements, and a regenerated ``../shared/vectors`` changes nothing until it
is copied in with the code that implements it. The real AEP data is read from ``../shared/data``
when it sits beside the checkout (more files than the copies under ``tests/data``), else from
those copies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"


def _pick(name: str) -> Path:
    shared = SHARED / name
    return shared if shared.is_dir() else HERE / name


VECTORS_DIR = HERE / "vectors"
DATA_DIR = _pick("data")
GOLDEN_DIR = VECTORS_DIR / "election-ledger-v1"
PV_2025 = DATA_DIR / "prezidentiale18052025" / "pv_part_cntry_prsd.csv"
TURNOUT_2018 = DATA_DIR / "referendum07102018" / "presence_RO_2018-10-07_21-00.csv"


def load_json(path: Path) -> Any:
    """Read a JSON file as UTF-8."""
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def spec_vectors() -> dict[str, Any]:
    """The public-spec vectors of ``vectors.json``."""
    data: dict[str, Any] = load_json(VECTORS_DIR / "vectors.json")
    return data


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The election-ledger v1 golden vectors folder."""
    return GOLDEN_DIR


DOCS_DIR = HERE.parent / "docs"


def doc_section(doc: str, heading: str) -> str:
    """The ``## `` section of ``docs/<doc>`` whose heading starts with ``heading``."""
    text = (DOCS_DIR / doc).read_text(encoding="utf-8")
    start = text.index("\n## " + heading)
    end = text.find("\n## ", start + 1)
    return text[start + 1 :] if end < 0 else text[start + 1 : end + 1]


def run_doc_examples(doc: str, heading: str) -> tuple[int, int]:
    """Run the doctest examples of one section of ``docs/<doc>``: (failures, tried)."""
    import doctest

    name = f"{doc}: {heading}"
    test = doctest.DocTestParser().get_doctest(doc_section(doc, heading), {}, name, doc, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    result = runner.summarize(verbose=False)
    return result.failed, result.attempted
