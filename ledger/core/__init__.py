"""Pure RFC 9162: hashing (every domain tag in one place), Merkle roots and proofs, their checks.

Imports nothing of election-ledger but :mod:`ledger.errors`."""
