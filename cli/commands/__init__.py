"""Every `ledger` subcommand, one module each; importing this package registers them all."""

from cli.commands import (  # noqa: F401
    check_proof,
    consistency,
    manifest,
    prove,
    publish,
    validate,
    verify,
)
