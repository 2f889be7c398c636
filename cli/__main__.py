"""`python -m cli` runs the `ledger` command."""

from cli.main import main

main()
