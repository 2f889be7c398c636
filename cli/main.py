"""The `ledger` command group and the one place where errors become exit codes.

Exit status (DESIGN.md section 7): 0 all holds; 1 the input is wrong; 2 bad usage or an input
that is not that kind of file; 3 the LMDB ledger cannot be opened, is locked, or is corrupt.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from ledger.errors import InputError, LedgerError, StoreError, VerificationError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_STORE = 3


def exit_code_for(error: BaseException) -> int:
    """Map a library error to the exit status of DESIGN.md section 7."""
    if isinstance(error, VerificationError):
        return EXIT_FINDINGS
    if isinstance(error, StoreError):
        return EXIT_STORE
    if isinstance(error, InputError | click.UsageError | OSError | ValueError):
        return EXIT_USAGE
    return EXIT_USAGE


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout."""
    click.echo(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False))


def fail(error: BaseException, *, as_json: bool) -> None:
    """Report ``error`` on stderr (and as JSON on stdout when asked) and exit with its code."""
    code = exit_code_for(error)
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename is not None else "input/output"
        message = f"{where}: {error.strerror}"
    else:
        message = str(error) or type(error).__name__
    if as_json:
        emit_json({"ok": False, "error": message, "error_type": type(error).__name__})
    click.echo(f"ledger: error: {message}", err=True)
    sys.exit(code)


class LedgerGroup(click.Group):
    """A click group that turns every library error into its exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`ledger ... | head`): stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_FINDINGS)
        except (LedgerError, OSError) as e:
            as_json = bool(ctx.meta.get("ledger.json"))
            fail(e, as_json=as_json)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:  # the last line of defence: a bug, said plainly, no traceback
            if os.environ.get("LEDGER_DEBUG"):
                raise
            click.echo(f"ledger: internal error (a bug, please report it; LEDGER_DEBUG=1 shows "
                       f"the traceback): {type(e).__name__}: {e}", err=True)
            sys.exit(EXIT_USAGE)
        return None


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="election-ledger")
def cli() -> None:
    """election-ledger: an auditable, append-only ledger of election results."""


def json_option(f: Any) -> Any:
    """The `--json` flag every command takes; remembered so errors are printed as JSON too."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        ctx.meta["ledger.json"] = value
        return value

    return click.option(
        "--json", "as_json", is_flag=True, callback=remember, is_eager=True,
        help="Print one JSON object on stdout.",
    )(f)


def _register() -> None:
    # Each command lives in its own module, which adds itself to `cli` on import.
    from cli import commands  # noqa: F401


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `ledger` console script."""
    _register()
    cli.main(args=list(argv) if argv is not None else None, prog_name="ledger")


if __name__ == "__main__":
    main()
