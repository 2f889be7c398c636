"""`python -m election_ledger_cli` runs the `ledger` command."""

from .app import main

main()
