"""election-ledger: an append-only, hash-chained Merkle-tree ledger of election results."""

__version__ = "0.1.0"
