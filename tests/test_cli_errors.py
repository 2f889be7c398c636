"""Every command's error output, with and without --json: one line on stderr, the error object on
stdout, the exit status of docs/spec.md; never a traceback, never click's own "Usage:" block."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli

from ledger.errors import (
    InputError,
    MalformedError,
    SourceUnavailableError,
    StoreError,
)
from tests.conftest import GOLDEN_DIR
from tests.verify_support import VALID

REJECT = GOLDEN_DIR / "reject"

#: Per command: arguments that fail (a missing file or folder, or a missing argument), the exit
#: status, and words the message must hold. ``{tmp}`` is a fresh empty folder.
TRANSCRIPTS = [
    (["keygen"], 2, "Missing argument 'NAME'"),
    (["keygen", "a/b"], 2, "must be a plain file name"),
    (["manifest", "--format", "aep-pv", "{tmp}/none.csv", "--name", "X", "--date",
      "2025-05-18", "--tz", "Europe/Bucharest"], 2, "none.csv"),
    (["validate", "--format", "aep-pv", "{tmp}/none.csv"], 2, "none.csv"),
    (["init", "{tmp}/led", "--origin", "a.example/b", "--key", "{tmp}/none.key",
      "--election", "{tmp}/m.json"], 2, "none.key"),
    (["station", "add", "{tmp}/led", "--key", "{tmp}/none.key"], 2, "give --record, or all"),
    (["station", "import", "{tmp}/led", "--key", "{tmp}/none.key", "{tmp}/x.csv",
      "--pubs", "{tmp}"], 2, "none.key"),
    (["station", "revoke", "{tmp}/led", "--key", "{tmp}/none.key", "--reason", "r",
      "--station", "AB-1"], 2, "none.key"),
    (["ballot", "add", "{tmp}/led", "--key", "{tmp}/none.key", "--category", "P",
      "--constituency", "1017", "--competitor", "A"], 2, "none.key"),
    (["sign", "--key", "{tmp}/none.key", "--origin", "a.example/b", "{tmp}/r.json"], 2,
     "none.key"),
    (["append", "{tmp}/led", "{tmp}/none.entry"], 2, "none.entry"),
    (["import", "{tmp}/led", "--format", "aep-pv", "--key", "{tmp}/none.key",
      "{tmp}/x.csv"], 2, "none.key"),
    (["seal", "{tmp}", "--key", "{tmp}/none.key"], 2, "none.key"),
    (["status", "{tmp}"], 3, "not a ledger directory"),
    (["show", "{tmp}", "0"], 3, "not a ledger directory"),
    (["publish", "{tmp}/nowhere", "{tmp}/site"], 2, "nowhere"),
    (["publish", str(VALID), "{tmp}/site", "--endpoint-url", "http://127.0.0.1:9"], 2,
     "an endpoint URL applies to an s3:// destination only"),
    (["publish", str(VALID), "s3:///no-bucket"], 2, "an s3 URL is s3://BUCKET/PREFIX"),
    (["verify", "{tmp}/nowhere", "--pub", str(VALID / "checkpoint")], 2, "checkpoint"),
    (["verify", str(VALID)], 2, "give --pub FILE, --policy FILE, or both"),
    (["tally", "{tmp}/nowhere", "--pub", str(VALID / "checkpoint")], 2, "checkpoint"),
    (["prove", "{tmp}/nowhere", "0"], 2, "nowhere"),
    (["check-proof", "{tmp}/none.tlog-proof", "--pub", "{tmp}/none.pub"], 2, "none"),
    (["consistency", str(VALID), "--trusted", "{tmp}/none", "--pub", "{tmp}/none.pub"], 2,
     "none"),
    (["check-evidence", "{tmp}/none.txt", "--pub", "{tmp}/none.pub"], 2, "none"),
    (["witness", "serve", "--key", "{tmp}/none.key", "--policy", "{tmp}/none.policy",
      "--state", "{tmp}/state", "--listen", "127.0.0.1:9"], 2, "none"),
    (["mirror", "pull", "{tmp}/m", "--source", "{tmp}/nowhere", "--pub", "{tmp}/none.pub",
      "--key", "{tmp}/none.key"], 2, "none.pub"),
    (["mirror", "serve", "{tmp}/nowhere", "--listen", "127.0.0.1:9"], 2, "no such directory"),
    (["watch", "{tmp}/nowhere", "--pub", "{tmp}/none.pub", "--state", "{tmp}/s"], 2,
     "none.pub"),
    (["national", "init", "{tmp}/nat", "--origin", "a.example/b", "--key", "{tmp}/none.key",
      "--election", "{tmp}/m.json"], 2, "none.key"),
    (["national", "add-log", "{tmp}/nat", "AB", "--key", "{tmp}/none.key", "--origin",
      "a.example/b/AB", "--pub", "{tmp}/none.pub"], 2, "none.pub"),
    (["national", "update", "{tmp}/nat", "--key", "{tmp}/none.key", "--county-logs",
      "{tmp}"], 2, "none.key"),
    (["demo", "--bogus"], 2, "No such option"),
    (["no-such-command"], 2, "No such command"),
]


def _args(args: list[str], tmp: Path) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in args]


@pytest.mark.parametrize(("args", "code", "words"), TRANSCRIPTS,
                         ids=[" ".join(t[0][:2]) for t in TRANSCRIPTS])
def test_an_error_is_one_line_on_stderr_with_its_exit_status(
    args: list[str], code: int, words: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, _args(args, tmp_path))
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ledger: error: ")
    assert words in lines[0]
    assert "Traceback" not in result.output
    assert "Usage:" not in result.output


@pytest.mark.parametrize(("args", "code", "words"), TRANSCRIPTS,
                         ids=[" ".join(t[0][:2]) for t in TRANSCRIPTS])
def test_with_json_an_error_is_also_the_error_object_on_stdout(
    args: list[str], code: int, words: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, [*_args(args, tmp_path), "--json"])
    assert result.exit_code == code, result.output
    error = json.loads(result.stdout)
    assert set(error) == {"ok", "exit", "error", "error_type", "category", "code", "where"}
    assert (error["ok"], error["exit"]) == (False, code)
    assert words in error["error"]
    assert result.stderr.startswith("ledger: error: ")


def test_every_command_has_a_transcript() -> None:
    covered = {" ".join(a[:2]) if a[0] in ("station", "witness", "ballot", "mirror", "national")
               else a[0]
               for a, _, _ in TRANSCRIPTS}
    from tests.test_docs_cli import registered

    assert set(registered()) <= covered


def test_every_help_ends_with_the_exit_statuses() -> None:
    from tests.test_docs_cli import registered

    for name in registered():
        result = CliRunner().invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0
        assert "Exit status: 0 all holds" in result.output, name
        assert "70 an internal error" in " ".join(result.output.split()), name


#: Runs `ledger` with a report far larger than a pipe's buffer, so that `head` closing the pipe
#: early really breaks the writer's pipe.
BIG_REPORT = (
    "import sys, click\n"
    "import election_ledger_cli.commands.verify as verify\n"
    "verify.emit_json = lambda obj: [click.echo('x' * 1000) for _ in range(2000)]\n"
    "from election_ledger_cli.app import main\n"
    "main(sys.argv[1:])\n"
)


def _pipe_status(args: list[str], tmp_path: Path) -> list[str]:
    """The exit status of each side of ``ledger ARGS | head -c 1`` under pipefail."""
    (tmp_path / "big.py").write_text(BIG_REPORT, encoding="utf-8")
    command = " ".join([sys.executable, "big.py", *args])
    script = f"set -o pipefail; {command} | head -c 1 >/dev/null; echo ${{PIPESTATUS[@]}}"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False,
                          timeout=120, cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout.split()


def test_a_reader_closing_the_pipe_keeps_the_verdict_so_far(tmp_path: Path) -> None:
    pub = tmp_path / "publisher.pub"
    vkey = json.loads((VALID.parent / "keys.json").read_text(encoding="utf-8"))
    pub.write_text(vkey["publisher"]["vkey"] + "\n", encoding="utf-8")
    assert _pipe_status(["verify", str(VALID), "--pub", str(pub), "--json"], tmp_path) == [
        "0", "0"]
    bad = REJECT / "entry-signature-flipped"
    failing = _pipe_status(["verify", str(bad), "--pub", str(pub), "--json"], tmp_path)
    assert failing == ["1", "0"]  # the failed audit is not hidden by the closed pipe


def test_a_secret_key_given_for_a_pub_is_named_as_such(tmp_path: Path) -> None:
    CliRunner().invoke(cli, ["keygen", "pub", "--key-name", "x.example/y", "-o", str(tmp_path)])
    result = CliRunner().invoke(cli, ["verify", str(VALID), "--pub", str(tmp_path / "pub.key")])
    assert result.exit_code == 2
    assert "this is a secret key (a .key file), not a verifier key (.pub)" in result.stderr
    swapped = CliRunner().invoke(cli, ["seal", str(tmp_path), "--key", str(tmp_path / "pub.pub")])
    assert swapped.exit_code == 2
    assert "this is a verifier key (a .pub file), not a secret key (.key)" in swapped.stderr


def test_the_wrong_publisher_key_names_the_key_that_signed_and_the_one_given(
    tmp_path: Path,
) -> None:
    origin = "prezenta.example.ro/prezidentiale18052025"
    CliRunner().invoke(cli, ["keygen", "other", "--key-name", origin, "-o", str(tmp_path)])
    result = CliRunner().invoke(cli, ["verify", str(VALID), "--pub", str(tmp_path / "other.pub"),
                                      "--json"])
    assert result.exit_code == 1
    message = json.loads(result.stdout)["errors"][0]["message"]
    given = (tmp_path / "other.pub").read_text(encoding="utf-8").split("+")[1]
    assert f"the key given is {origin}+{given}" in message
    assert f"signed by {origin}+" in message


@pytest.mark.parametrize("command", [
    ["validate", "--format", "aep-pv"],
    ["manifest", "--format", "aep-pv", "--name", "X", "--date", "2025-05-18", "--tz", "UTC"],
])
def test_a_csv_whose_first_line_is_not_utf8_is_named_not_an_internal_error(
    command: list[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfeprecinct,x\n1,2\n")
    result = CliRunner().invoke(cli, [*command, str(bad)])
    assert result.exit_code == 2, result.output
    assert f"{bad}:1" in result.stderr
    assert "not UTF-8" in result.stderr


def test_arguments_that_are_not_utf8_are_bad_usage_not_internal_errors(tmp_path: Path) -> None:
    # click hands undecodable bytes of argv over as lone surrogates (PEP 383).
    name = CliRunner().invoke(cli, ["keygen", "k", "--key-name", "\udcff", "-o", str(tmp_path)])
    assert name.exit_code == 2, name.output
    assert "not a valid key name" in name.stderr
    CliRunner().invoke(cli, ["keygen", "k", "--key-name", "a.example/x", "-o", str(tmp_path)])
    (tmp_path / "r.json").write_text("{}", encoding="utf-8")
    for origin in ("\udcff.example/x", "not an origin"):
        signed = CliRunner().invoke(cli, ["sign", "--key", str(tmp_path / "k.key"), "--origin",
                                          origin, str(tmp_path / "r.json")])
        assert signed.exit_code == 2, signed.output
        assert "is not <host>/<election id>" in signed.stderr


def test_a_receipt_over_the_size_limit_is_a_bad_receipt_exit_1(tmp_path: Path) -> None:
    from ledger.auditor.receipts import MAX_RECEIPT_SIZE

    huge = tmp_path / "huge.tlog-proof"
    huge.write_bytes(b"c2sp.org/tlog-proof@v1\n" + b"A" * MAX_RECEIPT_SIZE)
    pub = tmp_path / "publisher.pub"
    vkey = json.loads((VALID.parent / "keys.json").read_text(encoding="utf-8"))
    pub.write_text(vkey["publisher"]["vkey"] + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["check-proof", str(huge), "--pub", str(pub)])
    assert result.exit_code == 1, result.output
    assert "larger than the" in result.stderr


def test_a_secret_key_others_may_read_is_refused_with_the_chmod_that_fixes_it(
    tmp_path: Path,
) -> None:
    CliRunner().invoke(cli, ["keygen", "k", "--key-name", "a.example/x", "-o", str(tmp_path)])
    key = tmp_path / "k.key"
    key.chmod(0o644)
    (tmp_path / "r.json").write_text("{}", encoding="utf-8")
    args = ["sign", "--key", str(key), "--origin", "a.example/x", str(tmp_path / "r.json")]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2
    assert f"run: chmod 600 {key}" in refused.stderr
    allowed = CliRunner().invoke(cli, ["--insecure-key-permissions", *args])
    # the key is read now; what stops the command is the empty record after it
    assert "r.json: not a valid record" in allowed.stderr


def test_a_key_file_with_anything_after_its_one_line_is_refused(tmp_path: Path) -> None:
    CliRunner().invoke(cli, ["keygen", "k", "--key-name", "a.example/x", "-o", str(tmp_path)])
    key = tmp_path / "k.key"
    key.write_text(key.read_text(encoding="utf-8") + "more\n", encoding="utf-8")
    key.chmod(0o600)
    result = CliRunner().invoke(cli, ["seal", str(tmp_path), "--key", str(key)])
    assert result.exit_code == 2
    assert "not a key file" in result.stderr


ERROR_CLASSES = [
    (lambda: MalformedError("a byte is wrong"), 1),
    (lambda: InputError("not that kind of file"), 2),
    (lambda: FileNotFoundError(2, "No such file or directory", "x"), 2),
    (lambda: StoreError("cannot open"), 3),
    (lambda: SourceUnavailableError("connection refused"), 4),
    (lambda: ValueError("a library bug"), 70),
    (lambda: RuntimeError("a library bug"), 70),
]


def _filled(command: click.Command) -> list[str]:
    """Arguments that pass parsing: every required argument and option given a value."""
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        value = "0"
        if isinstance(param.type, click.Choice):
            value = str(param.type.choices[0])
        args += [value] if isinstance(param, click.Argument) else [param.opts[-1], value]
    return args


@pytest.mark.parametrize(("make", "code"), ERROR_CLASSES)
def test_every_command_maps_every_error_class_to_the_documented_exit(
    make: Any, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_docs_cli import registered

    def fail(*_args: object, **_kwargs: object) -> None:
        raise make()

    for name, command in registered().items():
        monkeypatch.setattr(command, "callback", fail)
        result = CliRunner().invoke(cli, [*name.split(), *_filled(command)])
        assert result.exit_code == code, (name, result.output)
        assert result.stderr.startswith("ledger: "), (name, result.stderr)
        assert "Traceback" not in result.output
