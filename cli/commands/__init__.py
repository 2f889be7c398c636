"""Every `ledger` subcommand, one module each; :mod:`cli.app` loads them by name when they run."""
