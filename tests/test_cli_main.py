"""The one place where errors become exit codes: no traceback ever reaches the user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import election_ledger_cli.commands.status as status_command
import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli, exit_code_for

from ledger.errors import (
    InputError,
    MalformedError,
    SourceUnavailableError,
    StoreError,
    StoreLockedError,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (MalformedError("bad"), 1),
        (InputError("not a file"), 2),
        (FileNotFoundError(2, "No such file or directory", "x"), 2),
        (StoreError("cannot open"), 3),
        (StoreLockedError("held by pid 1"), 3),
        (SourceUnavailableError("connection refused"), 4),
        (ValueError("a library bug"), 70),
        (KeyError("a library bug"), 70),
    ],
)
def test_each_error_kind_has_its_exit_status(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


def test_a_bug_is_reported_in_one_line_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(status_command.Ledger, "open", broken)
    result = CliRunner().invoke(cli, ["status", str(tmp_path)])
    assert result.exit_code == 70
    assert "internal error" in result.output
    assert "RuntimeError: boom" in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_is_named_plainly(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "nowhere"), "--pub",
                                      str(tmp_path / "none.pub")])
    assert result.exit_code == 2
    assert "none.pub" in result.output
    assert "Errno" not in result.output


def test_ledger_verify_of_a_published_tree_never_imports_lmdb(tmp_path: Path) -> None:
    # The auditor's command must run where lmdb is not installed: the group loads only the
    # module of the command that runs, and that one reads published trees without the store.
    code = (
        "import sys\n"
        "from election_ledger_cli.app import main\n"
        "try:\n"
        f"    main(['verify', {str(tmp_path)!r}, '--pub', {str(tmp_path / 'none.pub')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('lmdb' in sys.modules, 'election_ledger_cli.commands.seal' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_help_lists_every_command_with_its_short_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("verify", "check-proof", "seal", "station", "import"):
        assert f"  {name} " in result.output


def test_an_old_option_spelling_still_works_for_one_release_and_says_the_new_one(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(cli, ["keygen", "k", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "k.key").is_file()
    assert "--out-dir is now --output" in result.output
    hidden = CliRunner().invoke(cli, ["keygen", "--help"]).output
    assert "--out-dir" not in hidden


@pytest.mark.parametrize("args", [[], ["station"]])
def test_a_group_alone_shows_its_help_not_an_error(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert "Usage: ledger" in result.output
    assert "ledger: error" not in result.output
