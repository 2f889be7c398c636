"""The `ledger` command group: commands loaded when asked for, errors mapped to exit codes here.

Each command lives in a module of ``commands/`` that knows nothing of this group; the group
imports a command's module only when that command runs (or ``--help`` lists it), so ``ledger
verify`` never loads what only the publisher's commands need (lmdb). Exit status (docs/spec.md,
"Exit status"): 0 all holds; 1 the input is wrong; 2 bad usage or an input that is not that kind
of file; 3 the LMDB ledger cannot be opened, is locked, or is corrupt; 4 a source could not be
read; 70 an internal error (a bug).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from ledger.errors import (
    InputError,
    LedgerError,
    SourceUnavailableError,
    StoreError,
    VerificationError,
)

from .output import EXIT_SO_FAR, INSECURE_KEYS, emit_json

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_UNAVAILABLE = 4
EXIT_INTERNAL = 70

#: Every command: its name and where it lives (``module:attribute`` in this package).
COMMANDS: dict[str, str] = {
    "keygen": "commands.keygen:keygen_command",
    "manifest": "commands.manifest:manifest_command",
    "validate": "commands.validate:validate_command",
    "init": "commands.init:init_command",
    "station": "commands.station:station_group",
    "ballot": "commands.ballot:ballot_group",
    "sign": "commands.sign:sign_command",
    "append": "commands.append:append_command",
    "import": "commands.import_:import_command",
    "seal": "commands.seal:seal_command",
    "status": "commands.status:status_command",
    "show": "commands.show:show_command",
    "publish": "commands.publish:publish_command",
    "verify": "commands.verify:verify_command",
    "tally": "commands.tally:tally_command",
    "prove": "commands.prove:prove_command",
    "check-proof": "commands.check_proof:check_proof_command",
    "consistency": "commands.consistency:consistency_command",
    "check-evidence": "commands.check_evidence:check_evidence_command",
    "witness": "commands.witness:witness_group",
    "mirror": "commands.mirror:mirror_group",
    "national": "commands.national:national_group",
    "watch": "commands.watch:watch_command",
    "demo": "demo:main",
}


#: The exit statuses, as every command's --help ends.
EXIT_HELP = ("Exit status: 0 all holds (warnings allowed); 1 something in the input is wrong; "
             "2 bad usage, or an input that cannot be read or is not that kind of file; 3 the "
             "ledger directory cannot be opened, is locked or is corrupt; 4 a source could not "
             "be read; 70 an internal error.")

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


def exit_code_for_findings(categories: Sequence[str | None]) -> int:
    """The exit status of a report whose errors have these categories (docs/spec.md, "Exit
    status"): a ledger directory whose stored tables disagree with its entries (``store``) is 3,
    which comes before 1."""
    if "store" in categories:
        return EXIT_STORE
    return EXIT_FINDINGS if categories else EXIT_OK


def error_object(error: BaseException, code: int, message: str) -> dict[str, Any]:
    """The JSON object a failed command prints with ``--json`` (docs/cli.md, "Conventions")."""
    where = getattr(error, "where", None)
    return {
        "ok": False,
        "exit": code,
        "error": message,
        "error_type": type(error).__name__,
        "category": getattr(error, "category", None),
        "code": getattr(error, "code", None),
        "where": None if where is None else {k: v for k, v in dataclasses.asdict(where).items()
                                             if v is not None},
    }


def fail(error: BaseException, *, as_json: bool) -> None:
    """Report ``error`` on stderr (and as JSON on stdout when asked) and exit with its code."""
    code = exit_code_for(error)
    if isinstance(error, OSError) and error.strerror:
        where = error.filename if error.filename is not None else "input/output"
        message = f"{where}: {error.strerror}"
    elif isinstance(error, click.ClickException):
        message = error.format_message().rstrip(".")
        if isinstance(error, click.UsageError) and error.ctx is not None:
            message += f" (see '{error.ctx.command_path} --help')"
    else:
        message = str(error) or type(error).__name__
    hint = HINTS.get(type(error).__name__)
    if hint is not None:
        message = f"{message}; {hint}"
    if as_json:
        emit_json(error_object(error, code, message))
    click.echo(f"ledger: error: {message}", err=True)
    sys.exit(code)


#: Old spellings of options, accepted for one release (hidden): (command, old) -> new.
RENAMED_OPTIONS: dict[tuple[str, str], str] = {
    ("consistency", "--old"): "--trusted",
    ("station add", "--id"): "--station",
    ("keygen", "--out-dir"): "--output",
    ("demo", "--out"): "--output",
}


def _renamed(args: list[str]) -> list[str]:
    """``args`` with every old option spelling of its command replaced by today's (a note on
    stderr says so)."""
    words = [a for a in args[:2] if not a.startswith("-")]
    commands = {" ".join(words[:1]), " ".join(words[:2])}
    out = []
    for arg in args:
        name, eq, value = arg.partition("=")
        new = next((n for (c, o), n in RENAMED_OPTIONS.items() if c in commands and o == name),
                   None)
        if new is not None:
            click.echo(f"ledger: note: {name} is now {new}", err=True)
            arg = new + eq + value
        out.append(arg)
    return out


def _end_help_with_exit_status(command: click.Command) -> None:
    """Every command's --help ends with the exit statuses (subcommands of a group too)."""
    command.epilog = command.epilog or EXIT_HELP
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _end_help_with_exit_status(sub)


class LedgerGroup(click.Group):
    """The command group: loads a command's module on first use (click's lazy group pattern)
    and turns every library error into its exit code, never a traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _renamed(args))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module}.{attribute} is not a click command")
        _end_help_with_exit_status(command)
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

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Run a command; every usage error too is ``ledger: error: ...`` (and the JSON error
        object with ``--json``), exit 2."""
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name or "ledger", complete_var,
                                standalone_mode=False, **extra)
        except click.ClickException as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # `ledger` or `ledger station` alone
                e.show()
                sys.exit(e.exit_code)
            fail(e, as_json="--json" in argv)
        except click.Abort:
            click.echo("ledger: error: aborted", err=True)
            sys.exit(EXIT_FINDINGS)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`ledger verify ... | head -1`): stop quietly, with the exit
            # status the command had reached (a failed audit stays 1 under pipefail).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(int(ctx.meta.get(EXIT_SO_FAR, EXIT_OK)))
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


@click.group("ledger", cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"],
                                               "max_content_width": 100})
@click.version_option(package_name="election-ledger")
@click.option("--insecure-key-permissions", is_flag=True,
              help="Accept secret keys that others may read (throw-away test keys only).")
@click.pass_context
def cli(ctx: click.Context, insecure_key_permissions: bool) -> None:
    """election-ledger: an auditable, append-only ledger of election results."""
    ctx.meta[INSECURE_KEYS] = insecure_key_permissions


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `ledger` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="ledger")


if __name__ == "__main__":
    main()
