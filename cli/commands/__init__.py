"""Every `ledger` subcommand, one module each; importing this package registers them all."""

from cli.commands import (  # noqa: F401
    append,
    check_proof,
    consistency,
    import_,
    init,
    keygen,
    manifest,
    prove,
    publish,
    seal,
    show,
    sign,
    station,
    status,
    validate,
    verify,
)
