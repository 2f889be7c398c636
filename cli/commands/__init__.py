"""Every `ledger` subcommand, one module each; the group in ``app.py`` loads them by name when
they run."""
