"""The house rules of the package layout (docs/api.md, "Layout"), read from the code itself.

Every import of every module under ``ledger/`` and ``cli/`` is read with ``ast``: nothing here is
a list kept by hand that could drift from the code.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_doc_examples

ROOT = Path(__file__).resolve().parent.parent
LEDGER = ROOT / "ledger"
PACKAGES = ("core", "formats", "check", "store", "sources", "publisher", "auditor", "importers",
            "witness", "mirror", "national")
#: Top-level modules of ledger/ besides the packages.
TOP_LEVEL = {"__init__", "errors", "files"}
#: Standard-library modules that reach files, sockets or processes' storage.
IO_MODULES = {"io", "pathlib", "shutil", "socket", "tempfile", "urllib", "http", "lmdb", "sqlite3"}
#: Each third-party library and the one module that may import it.
LIBRARY_HOMES = {
    "lmdb": {"ledger.store.store"},
    "msgpack": {"ledger.formats.codec"},
    # typed decoding of the turnout records, held to the codec's answers
    "msgspec": {"ledger.formats.records.fast"},
    "cryptography": {"ledger.formats.signing"},
    "nacl": {"ledger.formats.signing"},
    "click": set(),  # only cli/
    # the HTTP servers: the witness's and the mirror's (one server choice, two roles)
    "aiohttp": {"ledger.witness.server", "ledger.mirror.server"},
    # the S3 client (the s3 extra): reading an object store, and publishing to one through it
    "boto3": {"ledger.sources.s3"},
    "botocore": {"ledger.sources.s3"},
}


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, and whether it runs when the module loads."""

    importer: str
    imported: str
    line: int
    at_load: bool  # False inside a function or an ``if TYPE_CHECKING:`` block


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Import] = []
    name = module_name(path)

    def visit(node: ast.AST, at_load: bool) -> None:
        for child in ast.iter_child_nodes(node):
            in_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            type_only = isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            if isinstance(child, ast.Import):
                found.extend(Import(name, a.name, child.lineno, at_load) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append(Import(name, child.module, child.lineno, at_load))
            visit(child, at_load and not (in_function or type_only))

    visit(tree, True)
    return found


def all_imports(folder: Path) -> list[Import]:
    return [i for path in sorted(folder.rglob("*.py")) for i in imports_of(path)]


LEDGER_IMPORTS = all_imports(LEDGER)
CLI_IMPORTS = all_imports(ROOT / "cli")


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_ledger_holds_the_packages_of_the_design_and_nothing_loose() -> None:
    loose = {p.stem for p in LEDGER.glob("*.py")} - TOP_LEVEL
    assert loose == set(), f"modules outside the packages: {sorted(loose)}"
    folders = {p.name for p in LEDGER.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(PACKAGES)
    for package in PACKAGES:
        assert (LEDGER / package / "__init__.py").is_file(), package


def test_core_imports_nothing_of_ours_but_errors() -> None:
    bad = [i for i in LEDGER_IMPORTS if within(i.importer, "ledger.core")
           and within(i.imported, "ledger") and not within(i.imported, "ledger.core")
           and i.imported != "ledger.errors"]
    assert bad == []


@pytest.mark.parametrize("package", ["ledger.core", "ledger.formats", "ledger.check"])
def test_pure_packages_do_no_io(package: str) -> None:
    io_of_ours = ("ledger.store", "ledger.sources", "ledger.files", "ledger.publisher",
                  "ledger.auditor", "ledger.importers")
    bad = [i for i in LEDGER_IMPORTS if within(i.importer, package) and (
        i.imported.split(".")[0] in IO_MODULES or any(within(i.imported, p) for p in io_of_ours))]
    assert bad == []


def test_the_auditor_never_imports_the_store() -> None:
    bad = [i for i in LEDGER_IMPORTS
           if within(i.importer, "ledger.auditor") and within(i.imported, "ledger.store")]
    assert bad == []


def test_only_the_ledger_dir_source_reaches_the_store_from_the_reading_side() -> None:
    # Outside the publisher and the store itself, lmdb-backed code is reached in one place,
    # lazily: the ledger-directory source. The store's names (store.layout) are pure.
    bad = [i for i in LEDGER_IMPORTS if within(i.imported, "ledger.store")
           and i.imported != "ledger.store.layout"
           and not any(within(i.importer, p) for p in ("ledger.store", "ledger.publisher"))
           and not (i.importer == "ledger.sources.ledger_dir" and not i.at_load)
           and not (i.importer == "ledger" and not i.at_load)]
    assert bad == []


def test_the_library_never_imports_the_cli() -> None:
    assert [i for i in LEDGER_IMPORTS if within(i.imported, "cli")] == []


@pytest.mark.parametrize("library", sorted(LIBRARY_HOMES))
def test_each_third_party_library_has_one_home(library: str) -> None:
    users = {i.importer for i in LEDGER_IMPORTS if within(i.imported, library)}
    assert users <= LIBRARY_HOMES[library]
    if library != "click":
        assert {i.importer for i in CLI_IMPORTS if within(i.imported, library)} == set()


def test_the_library_never_names_a_command_line_flag() -> None:
    flag = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
    named = []
    for path in sorted(LEDGER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named += [(module_name(path), node.lineno, m.group(0))
                          for m in flag.finditer(node.value)]
    assert named == []


def test_importing_the_api_and_the_auditor_loads_no_lmdb() -> None:
    code = ("import sys, ledger, ledger.auditor.verify, ledger.sources.open\n"
            "assert 'lmdb' not in sys.modules, 'lmdb was imported'\n"
            "assert set(ledger.__all__) <= set(dir(ledger))\n"
            "ledger.Ledger\n"
            "assert 'lmdb' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_public_name_resolves_and_is_documented() -> None:
    import ledger

    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = api[api.index("## The public API"):]
    section = section[: section.index("\n## ", 4)]
    for name in ledger.__all__:
        assert getattr(ledger, name) is not None
        assert f"`{name}" in section, f"{name} is not in docs/api.md, 'The public API'"
    with pytest.raises(AttributeError):
        _ = ledger.no_such_name  # type: ignore[attr-defined]


def test_the_public_api_example_runs() -> None:
    failures, tried = run_doc_examples("api.md", "The public API")
    assert (failures, tried > 15) == (0, True)


def test_the_wheel_lists_every_package_of_the_library_and_the_cli() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {module_name(p.parent) for p in LEDGER.rglob("__init__.py")}
    on_disk |= {module_name(p.parent).replace("cli", "election_ledger_cli", 1)
                for p in (ROOT / "cli").rglob("__init__.py")}
    assert listed == on_disk
