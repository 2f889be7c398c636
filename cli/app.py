"""The `ledger` command group: commands loaded when asked for, errors mapped to exit codes here.

Each command lives in a module of ``cli.commands`` that knows nothing of this group; the group
imports a command's module only when that command runs (or ``--help`` lists it), so ``ledger
verify`` never loads what only the publisher's commands need (lmdb). Exit status (docs/spec.md,
"Exit status"): 0 all holds; 1 the input is wrong; 2 bad usage or an input that is not that kind
of file; 3 the LMDB ledger cannot be opened, is locked, or is corrupt; 4 a source could not be
read; 70 an internal error (a bug).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from cli.output import emit_json
from ledger.errors import (
    InputError,
    LedgerError,
    SourceUnavailableError,
    StoreError,
    VerificationError,
)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_UNAVAILABLE = 4
EXIT_INTERNAL = 70

#: Every command: its name and where it lives (``module:attribute`` under ``cli.commands``).
COMMANDS: dict[str, str] = {
    "keygen": "keygen:keygen_command",
    "manifest": "manifest:manifest_command",
    "validate": "validate:validate_command",
    "init": "init:init_command",
    "station": "station:station_group",
    "sign": "sign:sign_command",
    "append": "append:append_command",
    "import": "import_:import_command",
    "seal": "seal:seal_command",
    "status": "status:status_command",
    "show": "show:show_command",
    "publish": "publish:publish_command",
    "verify": "verify:verify_command",
    "prove": "prove:prove_command",
    "check-proof": "check_proof:check_proof_command",
    "consistency": "consistency:consistency_command",
    "check-evidence": "check_evidence:check_evidence_command",
    "witness": "witness:witness_group",
}


#: What to do about an error, in this command line's words (the library never names a flag).
HINTS: dict[str, str] = {
    "NothingToSealError": "give --empty to seal an empty block",
}


def exit_code_for(error: BaseException) -> int:
    """Map an error to its exit status (docs/spec.md, "Exit status"): anything that is not a
    library error about the input, the store or a source, nor an OS error, is a bug."""
    if isinstance(error, VerificationError):
        return EXIT_FINDINGS
    if isinstance(error, StoreError):
        return EXIT_STORE
    if isinstance(error, SourceUnavailableError):
        return EXIT_UNAVAILABLE
    if isinstance(error, InputError | click.UsageError | OSError):
        return EXIT_USAGE
    return EXIT_INTERNAL


def fail(error: BaseException, *, as_json: bool) -> None:
    """Report ``error`` on stderr (and as JSON on stdout when asked) and exit with its code."""
    code = exit_code_for(error)
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename is not None else "input/output"
        message = f"{where}: {error.strerror}"
    else:
        message = str(error) or type(error).__name__
    hint = HINTS.get(type(error).__name__)
    if hint is not None:
        message = f"{message}; {hint}"
    if as_json:
        emit_json({"ok": False, "error": message, "error_type": type(error).__name__})
    click.echo(f"ledger: error: {message}", err=True)
    sys.exit(code)


class LedgerGroup(click.Group):
    """The command group: loads a command's module on first use (click's lazy group pattern)
    and turns every library error into its exit code, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(f"cli.commands.{module}"), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"cli.commands.{module}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            try:
                command = self.get_command(ctx, name)
            except ImportError as e:  # a command whose dependency is not installed
                rows.append((name, f"(unavailable: {e})"))
                continue
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
            sys.exit(EXIT_INTERNAL)
        return None


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="election-ledger")
def cli() -> None:
    """election-ledger: an auditable, append-only ledger of election results."""


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `ledger` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="ledger")


if __name__ == "__main__":
    main()
