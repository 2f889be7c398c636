"""The wheel a user installs: it holds what its commands need, and the auditor needs no lmdb.

One wheel is built from this checkout; a fresh virtual environment installs it with its
dependencies and runs the demo from the installed package alone (no checkout on the path); a
second environment installs it without lmdb and audits the demo's published files and checks its
receipts with the installed `ledger` command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from ledger.publisher.page import ASSETS, PAGE_FILE

ROOT = Path(__file__).resolve().parent.parent
STEP_TIMEOUT = 300
#: The runtime dependencies but lmdb (pyproject.toml), for the auditor's install.
AUDITOR_DEPENDENCIES = [
    d for d in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"] if not d.startswith("lmdb")]

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT, check=False, env=env)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def fresh_venv(path: Path) -> Path:
    """A new virtual environment (with pip) and its bin folder."""
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"


def clean_env() -> dict[str, str]:
    """The environment with nothing that would put this checkout on the import path."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}


#: What the wheel is built from: a copy of just these, so that nothing left in the checkout
#: (a build/ folder of an earlier build, caches) can reach the wheel or race with it.
SOURCES = ("pyproject.toml", "README.md", "ledger", "cli")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, tree = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tree / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, tree / name)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out, tree,
        cwd=out, env=clean_env())
    [built] = out.glob("election_ledger-*.whl")
    return built


def test_the_wheel_ships_the_cli_under_its_own_name_with_the_demo_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "election_ledger_cli/demo_data/pv_part_cntry_prsd_sample.csv" in names
    assert "election_ledger_cli/app.py" in names
    assert "ledger/py.typed" in names
    # the observer's page, written into every published tree, with its vendored library
    for name in (PAGE_FILE, *ASSETS):
        assert f"ledger/publisher/page/{name}" in names, name
    assert not any(n.startswith("cli/") for n in names), "a generic top-level `cli` package"
    assert not any(n.startswith("tests/") for n in names)


def test_the_installed_demo_runs_then_an_auditor_without_lmdb_checks_its_files(
    wheel: Path, tmp_path: Path
) -> None:
    env = clean_env()
    full = fresh_venv(tmp_path / "full")
    run(full / "python", "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path, env=env)
    work = tmp_path / "work"
    work.mkdir()
    demo = run(full / "ledger", "demo", "-o", "out", cwd=work, env=env)
    assert "the whole story holds" in demo.stdout
    published, keys = work / "out" / "published", work / "out" / "keys"
    receipts = work / "out" / "receipts-cli"

    auditor = fresh_venv(tmp_path / "auditor")
    run(auditor / "python", "-m", "pip", "install", "--quiet", "--no-deps", wheel, cwd=tmp_path,
        env=env)
    run(auditor / "python", "-m", "pip", "install", "--quiet", *AUDITOR_DEPENDENCIES,
        cwd=tmp_path, env=env)
    missing = subprocess.run([auditor / "python", "-c", "import lmdb"], capture_output=True,
                             check=False, timeout=STEP_TIMEOUT)
    assert missing.returncode != 0, "lmdb is installed in the auditor's environment"
    verified = run(auditor / "ledger", "verify", published, "--pub", keys / "publisher.pub",
                   cwd=work, env=env)
    assert verified.stdout.startswith("OK: ")
    checked = run(auditor / "ledger", "check-proof", receipts / "AB-1-report.tlog-proof",
                  receipts / "AB-1-station.tlog-proof", "--pub", keys / "publisher.pub",
                  cwd=work, env=env)
    assert "OK: entry" in checked.stdout
    help_text = run(auditor / "ledger", "--help", cwd=work, env=env).stdout
    assert "verify" in help_text
    assert "seal" in help_text  # listed, though it cannot run without lmdb
