"""docs/cli.md: every registered command and option is documented, and every example runs."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC = ROOT / "docs" / "cli.md"
SAMPLE = ROOT / "cli" / "demo_data" / "pv_part_cntry_prsd_sample.csv"
_HEADING = re.compile(r"^### `ledger ([a-z -]+)`$", re.MULTILINE)


def registered(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    """Every leaf command of the `ledger` group, by its full name (``station add``)."""
    found: dict[str, click.Command] = {}
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found.update(registered(command, full + " "))
        else:
            found[full] = command
    return found


def sections() -> dict[str, str]:
    """The text of each command's section of docs/cli.md, by command name."""
    text = CLI_DOC.read_text(encoding="utf-8")
    heads = list(_HEADING.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return {h.group(1): text[h.end():end] for h, end in zip(heads, ends, strict=True)}


def test_every_registered_command_has_a_section_and_no_section_is_stale() -> None:
    assert sorted(sections()) == sorted(registered())


@pytest.mark.parametrize("name", sorted(registered()))
def test_every_option_of_a_command_is_documented_in_its_section(name: str) -> None:
    section = sections()[name]
    for param in registered()[name].params:
        if isinstance(param, click.Option) and param.name != "as_json":
            flag = max(param.opts, key=len)  # the long form: --output, not -o
            assert f"`{flag}" in section, (name, flag)
    assert "```console" in section, f"{name} has no example"


def examples() -> list[tuple[str, int, list[str]]]:
    """(command, expected exit, expected output lines) of every `$ ` line in console blocks."""
    out: list[tuple[str, int, list[str]]] = []
    in_console = False
    for line in CLI_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_console = line == "```console"
        elif in_console and line.startswith("$ "):
            command, _, code = line[2:].partition("  # exit ")
            out.append((command, int(code or 0), []))
        elif in_console and out:
            out[-1][2].append(line)
    return out


def test_the_examples_run_in_order_as_written(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    head = SAMPLE.read_bytes().split(b"\n")[:13]  # the header and the first 12 rows
    (tmp_path / "pv.csv").write_bytes(b"\n".join(head) + b"\n")
    steps = examples()
    assert len(steps) >= len(registered())
    for command, code, expected in steps:
        if not command.startswith("ledger "):
            subprocess.run(command, shell=True, check=True, cwd=tmp_path)
            continue
        result = CliRunner().invoke(cli, shlex.split(command)[1:], catch_exceptions=False)
        assert result.exit_code == code, (command, result.output)
        assert "Traceback" not in result.output
        for want in expected:
            if "..." not in want:
                assert want.strip() in result.output, (command, want, result.output)
