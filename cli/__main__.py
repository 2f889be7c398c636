"""`python -m cli` runs the `ledger` command."""

from cli.app import main

main()
