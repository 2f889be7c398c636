"""The one place where errors become exit codes: no traceback ever reaches the user."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cli.commands.status as status_command
from cli.main import _register, cli, exit_code_for
from ledger.errors import InputError, MalformedError, StoreError, StoreLockedError

_register()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (MalformedError("bad"), 1),
        (InputError("not a file"), 2),
        (FileNotFoundError(2, "No such file or directory", "x"), 2),
        (StoreError("cannot open"), 3),
        (StoreLockedError("held by pid 1"), 3),
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
    assert result.exit_code == 2
    assert "internal error" in result.output
    assert "RuntimeError: boom" in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_is_named_plainly(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["verify", str(tmp_path / "nowhere"), "--pub",
                                      str(tmp_path / "none.pub")])
    assert result.exit_code == 2
    assert "none.pub" in result.output
    assert "Errno" not in result.output
