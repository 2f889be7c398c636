"""The `ledger` command: a thin click layer over the `ledger` library."""
