"""Fuzzed inputs to every parser (tests/fuzz_targets.py): each returns a value or raises a
LedgerError, never another exception, and what it returns encodes back (docs/threat-model.md,
"Tested against").

Seeded and bounded (hypothesis ``derandomize``): the same inputs on every run, a few seconds a
target. Inputs are random bytes and, mostly, valid inputs with a few bytes flipped, inserted,
deleted, duplicated or cut: near misses reach further into a parser than noise does.
``make fuzz`` runs the same targets for longer under atheris.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_targets import TARGETS, run, seeds

#: Examples per target in `make test` (a few seconds each on this machine).
EXAMPLES = {"csv_turnout": 150, "csv_pv": 150, "entry": 400, "receipt": 300, "evidence": 300}
DEFAULT_EXAMPLES = 600


@st.composite
def mutants(draw: st.DrawFn, seed_list: list[bytes]) -> bytes:
    """A valid input of the target's kind with 1 to 8 edits."""
    data = bytearray(draw(st.sampled_from(seed_list)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut", "dup"]))
        at = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from([0, 0x0A, 0x20, 0x2B, 0x2D, 0x30, 0x39, 0x7F,
                                             0x80, 0xC0, 0xFF, draw(st.integers(0, 255))]))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[at:at + draw(st.integers(min_value=1, max_value=8))]
        elif op == "cut":
            del data[at:]
        elif op == "dup" and data:
            end = min(len(data), at + draw(st.integers(min_value=1, max_value=64)))
            data[at:at] = data[at:end]
    return bytes(data)


def inputs(name: str) -> st.SearchStrategy[bytes]:
    found = seeds()[name]
    assert found, f"no seed for {name}"
    return st.one_of(st.binary(max_size=512), mutants(found), st.sampled_from(found))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_of_every_parser_are_accepted(name: str) -> None:
    for data in seeds()[name]:
        TARGETS[name](data)  # a valid input parses (and round-trips): no exception at all


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzzed_input_gives_a_value_or_a_ledger_error_never_a_crash(name: str) -> None:
    @settings(max_examples=EXAMPLES.get(name, DEFAULT_EXAMPLES), derandomize=True,
              deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(inputs(name))
    def fuzz(data: bytes) -> None:
        run(name, data)

    fuzz()
