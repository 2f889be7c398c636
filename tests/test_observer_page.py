"""The observer's page in a real headless Chromium, against a published tree served on
127.0.0.1: the checkpoint, receipts and a station's records verified in the browser, with
WebCrypto and with the vendored JavaScript (``#crypto=js``), and every forgery refused with the
answer ``ledger check-proof`` gives."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from election_ledger_cli.app import cli as ledger_cli
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from benchmarks.ed25519_same_answer import all_cases, cryptography_accepts
from ledger.errors import InputError, VerificationError
from ledger.formats.codec import decode_value
from ledger.formats.keys import (
    SIG_COSIGNATURE_V1,
    format_verifier_key,
    parse_verifier_key,
    verifier_key_for,
)
from ledger.formats.policy import parse_policy
from ledger.formats.records import (
    KINDS,
    Report,
    Station,
    Turnout,
    decode_entry_record,
    decode_record,
    encode_record,
    record_from_json,
)
from ledger.formats.signing import Signer, is_prime_order_key
from ledger.mirror.pull import Mirror, origin_dir_name
from ledger.mirror.server import _PATH
from ledger.publisher.page import ASSET_DIR, ASSETS, PAGE_FILE, PAGE_FILES
from ledger.publisher.publish import publish
from ledger.sources.http import HttpSource
from ledger.sources.published import PublishedDirSource
from tests.browser_support import INSECURE_HOST, Verdict, chromium, open_page, verdict
from tests.http_support import local_server
from tests.observer_vectors import (
    GOLDEN,
    VALID,
    VECTORS,
    answer,
    cases,
    flips,
    golden,
    mutations,
)
from tests.witness_support import witness_key

PAGE = Path(__file__).parent.parent / "ledger" / "publisher" / "page"
EXPECTED = json.loads((VALID / "expected.json").read_text())
WITNESS_VKEY = EXPECTED["witness_vkey"]
OTHER_WITNESS = format_verifier_key(verifier_key_for(
    "witness.example.net/second", Signer(bytes(range(1, 33))).public_key, SIG_COSIGNATURE_V1))
MET = f"log {EXPECTED['vkey']}\nwitness observer {WITNESS_VKEY}\nquorum observer\n"
UNMET = (f"log {EXPECTED['vkey']}\nwitness observer {WITNESS_VKEY}\n"
         f"witness second {OTHER_WITNESS}\ngroup both all observer second\nquorum both\n")
MODES = ("webcrypto", "js")


def published(root: Path, policy: str | None = None) -> Path:
    """The golden log published into ``root`` (page policy ``policy``), with its receipts."""
    publish(PublishedDirSource(VALID), root,
            page_policy=None if policy is None else parse_policy(policy.encode()))
    shutil.copytree(VALID / "receipts", root / "receipts")
    return root


def station_index(root: Path) -> None:
    """Write the station index of docs/spec.md ("Published form") from the entries."""
    size = int((root / "checkpoint").read_bytes().split(b"\n")[1])
    names: dict[str, str] = {}
    lists: dict[str, dict[str, list[int]]] = {}
    for i, entry in enumerate(PublishedDirSource(root).iter_entries(0, size)):
        record = decode_entry_record(entry)[1]
        if isinstance(record, Station):
            names[record.id] = record.name
            sid = record.id
        elif isinstance(record, Turnout | Report):
            sid = record.station
        else:
            continue
        lists.setdefault(sid, {"station": [], "turnout": [], "report": []})[record.KIND].append(i)
    (root / "stations").mkdir(exist_ok=True)
    (root / "stations" / "index.json").write_text(json.dumps(names, ensure_ascii=False))
    for sid, entries in lists.items():
        (root / "stations" / f"{sid}.json").write_text(json.dumps(
            {"station": sid, "name": names[sid], "entries": entries}, ensure_ascii=False))


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_server(published(tmp_path_factory.mktemp("site"))) as server:
        yield server.url


def page(browser: WebDriver, url: str, check: str, mode: str, **params: str) -> Verdict:
    if mode == "js":
        params["crypto"] = "js"
    got = open_page(browser, url, check, **params)
    used = browser.execute_script("return window.observer.cryptoMode()")
    assert used == ("js" if mode == "js" else "webcrypto")
    return got


# --- the files ----------------------------------------------------------------------------------


def test_the_vendored_library_is_the_pinned_npm_file_and_the_page_is_light(
    tmp_path: Path,
) -> None:
    readme = (PAGE / "vendor" / "README.md").read_text()
    digest = hashlib.sha256((PAGE / "vendor" / "noble-ed25519.js").read_bytes()).hexdigest()
    assert f"`{digest}`" in readme
    assert "3.2.0" in readme
    assert "MIT License" in (PAGE / "vendor" / "LICENSE").read_text()
    root = published(tmp_path, MET)  # as published: the trust block and a policy written in
    weight = sum((root / name).stat().st_size for name in PAGE_FILES
                 if name.endswith((".html", ".js", ".css")))
    assert weight < 150_000, weight


def test_a_page_policy_naming_another_log_key_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    other = format_verifier_key(verifier_key_for(EXPECTED["origin"],
                                                 Signer(bytes(32)).public_key))
    with pytest.raises(InputError, match="another key"):
        publish(PublishedDirSource(VALID), tmp_path / "out",
                page_policy=parse_policy(f"log {other}\nquorum none\n".encode()))
    assert not (tmp_path / "out" / "checkpoint").exists()


def test_the_page_reads_only_relative_urls() -> None:
    for name in (PAGE_FILE, *ASSETS):
        if name.endswith((".html", ".js", ".css")) and not name.startswith("vendor/"):
            text = (PAGE / name).read_text()
            assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
            assert "https://" not in text
            assert 'src="/' not in text
            assert 'href="/' not in text


# --- the checkpoint -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_checkpoint_verifies_in_the_browser(browser: WebDriver, site: str,
                                                mode: str) -> None:
    got = page(browser, site, "checkpoint", mode)
    assert got.ok, got
    assert "308" in got.text
    view = browser.find_element(By.ID, "checkpoint-view").text
    assert EXPECTED["root_hex"] in view
    assert "Europe/Bucharest" in view  # the time of the last block, in the election's zone


@pytest.mark.parametrize("mode", MODES)
def test_a_tampered_tile_fails_the_checkpoint_and_names_the_file(
    browser: WebDriver, tmp_path: Path, mode: str
) -> None:
    root = published(tmp_path)
    tile = root / "tile" / "0" / "001.p" / "52"  # holds the last entry's leaf: its proof reads it
    data = bytearray(tile.read_bytes())
    data[5] ^= 1
    tile.write_bytes(bytes(data))
    with local_server(root) as server:
        got = page(browser, server.url, "checkpoint", mode)
    assert not got.ok
    assert (got.code, got.category) == ("root-mismatch", "tiles")
    assert "tile/0/001.p/52" in got.text


@pytest.mark.parametrize("mode", MODES)
def test_a_checkpoint_short_of_the_pages_quorum_is_refused(browser: WebDriver, tmp_path: Path,
                                                          mode: str) -> None:
    with local_server(published(tmp_path / "met", MET)) as server:
        met = page(browser, server.url, "checkpoint", mode)
    assert met.ok, met
    assert "observer" in browser.find_element(By.ID, "checkpoint-view").text
    with local_server(published(tmp_path / "unmet", UNMET)) as server:
        unmet = page(browser, server.url, "checkpoint", mode)
        receipt = page(browser, server.url, "receipt", mode,
                       receipt="receipts/SR-6-report-by-publisher.tlog-proof")
    assert not unmet.ok
    assert (unmet.code, unmet.category, unmet.file) == ("quorum", "witness", "checkpoint")
    assert "group both needs 2 of observer, second; cosigned by observer" in unmet.text
    policy = parse_policy(UNMET.encode())
    python = answer(*golden("SR-6-report-by-publisher"), policy=policy)
    assert not receipt.ok
    assert (receipt.code, receipt.category) == (python["code"], python["category"])
    assert python["message"] in receipt.text


# --- receipts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_the_demo_receipts_verify_in_the_browser(browser: WebDriver, site: str, mode: str,
                                                 name: str) -> None:
    main, station = GOLDEN[name]
    params = {"receipt": f"receipts/{main}"}
    if station is not None:
        params["station_receipt"] = f"receipts/{station}"
    got = page(browser, site, "receipt", mode, **params)
    assert got.ok, got
    view = browser.find_element(By.ID, "receipt-view").text
    if name != "AB-1-station":  # a station record has no time
        assert "Europe/Bucharest" in view  # times in the election's zone
    if name == "AB-1-report":
        assert "a (alegători înscriși în liste)" in view  # a report's letters, in words
        assert "revocat" in view  # what a receipt cannot show (Romanian first)


def same_answers(browser: WebDriver, batch: list[tuple[str, bytes, bytes | None]],
                 expected: list[dict[str, Any]]) -> list[str]:
    """The page's check-proof on every case of ``batch``, against ``expected``: differences."""
    b64 = [(base64.b64encode(m).decode(), None if s is None else base64.b64encode(s).decode())
           for _, m, s in batch]
    got = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "(async () => { const out = [];"
        " for (const [m, s] of arguments[0]) out.push(await window.observer.checkReceipt(m, s));"
        " return out; })().then(done, (e) => done(String(e && e.stack || e)));", b64)
    assert isinstance(got, list), got
    differences = []
    for (name, _, _), page_answer, want in zip(batch, got, expected, strict=True):
        if want["ok"]:
            same = page_answer["ok"] and page_answer["index"] == str(want["index"])
        else:
            same = (not page_answer["ok"] and page_answer["code"] == want["code"]
                    and page_answer["category"] == want["category"]
                    and page_answer["message"] == want["message"]
                    and page_answer["index"] == (None if want.get("index") is None
                                                 else str(want["index"])))
        if not same:
            differences.append(f"{name}: page {page_answer}, check-proof {want}")
    return differences


def test_the_committed_receipt_vectors_are_check_proofs_answers() -> None:
    committed = json.loads(VECTORS.read_text())["cases"]
    assert committed == cases()


@pytest.mark.parametrize("mode", MODES)
def test_the_page_answers_every_receipt_rule_as_check_proof(browser: WebDriver, site: str,
                                                           mode: str) -> None:
    page(browser, site, "checkpoint", mode)
    committed = json.loads(VECTORS.read_text())["cases"]
    batch = [(c["name"], base64.b64decode(c["receipt"]),
              None if c["station_receipt"] is None else base64.b64decode(c["station_receipt"]))
             for c in committed]
    assert same_answers(browser, batch, [c["expect"] for c in committed]) == []


@functools.cache
def flipped() -> tuple[list[tuple[str, bytes, bytes | None]], list[dict[str, Any]]]:
    """Every single-byte change of the golden receipts, with check-proof's answer to each."""
    batch = [case for name in sorted(GOLDEN) for case in flips(name)]
    return batch, [answer(m, s) for _, m, s in batch]


@pytest.mark.parametrize("mode", MODES)
def test_every_single_byte_change_of_a_receipt_gets_check_proofs_answer(
    browser: WebDriver, site: str, mode: str
) -> None:
    page(browser, site, "checkpoint", mode)
    batch, expected = flipped()
    assert sum(not e["ok"] for e in expected) > 0.9 * len(batch)
    assert same_answers(browser, batch, expected) == []


@pytest.mark.parametrize("mode", MODES)
def test_random_changes_of_a_receipt_get_check_proofs_answer(browser: WebDriver, site: str,
                                                            mode: str) -> None:
    page(browser, site, "checkpoint", mode)
    batch = mutations(1500, seed=15 if mode == "js" else 16)
    expected = [answer(m, s) for _, m, s in batch]
    assert same_answers(browser, batch, expected) == []


@pytest.mark.parametrize("mode", MODES)
def test_a_flipped_receipt_byte_and_a_receipt_of_another_log_are_refused_on_the_page(
    browser: WebDriver, tmp_path: Path, mode: str
) -> None:
    root = published(tmp_path)
    main, station = golden("AB-1-report")
    assert station is not None
    flipped = bytearray(main)
    flipped[100] ^= 1  # inside the entry bytes (the extra line)
    (root / "receipts" / "flipped.tlog-proof").write_bytes(bytes(flipped))
    other = next(c for c in json.loads(VECTORS.read_text())["cases"]
                 if c["name"] == "a receipt of another log")
    (root / "receipts" / "other.tlog-proof").write_bytes(base64.b64decode(other["receipt"]))
    with local_server(root) as server:
        got = page(browser, server.url, "receipt", mode, receipt="receipts/flipped.tlog-proof",
                   station_receipt="receipts/AB-1-station.tlog-proof")
        want = answer(bytes(flipped), station)
        assert not got.ok
        assert (got.code, got.category) == (want["code"], want["category"])
        assert want["message"] in got.text
        got = page(browser, server.url, "receipt", mode, receipt="receipts/other.tlog-proof",
                   station_receipt="receipts/AB-1-station.tlog-proof")
        assert not got.ok
        assert got.code == "no-known-signature"
        assert other["expect"]["message"] in got.text


def test_a_receipt_picked_from_a_file_is_checked(browser: WebDriver, site: str) -> None:
    page(browser, site, "checkpoint", "webcrypto")
    picker = browser.find_element(By.ID, "receipt-files")
    picker.send_keys("\n".join(str(VALID / "receipts" / n) for n in GOLDEN["AB-1-report"]
                               if n is not None))
    got = verdict(browser, "receipt")
    assert got.ok, got
    assert "303" in got.text


# --- stations -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("indexed", [False, True], ids=["bundles", "station-index"])
def test_a_station_is_looked_up_with_its_records_proved_and_its_turnout_drawn(
    browser: WebDriver, tmp_path: Path, mode: str, indexed: bool
) -> None:
    root = published(tmp_path)
    if not indexed:  # as a tree published before there was a station index
        shutil.rmtree(root / "stations", ignore_errors=True)
    elif not (root / "stations" / "index.json").exists():
        station_index(root)
    with local_server(root) as server:
        got = page(browser, server.url, "station", mode, station="AB-1")
        assert got.ok, got
        assert "AB-1" in got.text
        marks = browser.find_elements(By.CSS_SELECTOR, "#station-view .report .mark.ok")
        assert marks
        points = browser.execute_script(
            "return document.querySelector('#station-view svg.chart polyline')"
            ".getAttribute('points').split(' ').length")
        assert points >= 2
        assert ("/stations/AB-1.json" in server.behaviour.paths) == indexed
        # by name, through the search form
        browser.find_element(By.ID, "search-input").send_keys("Lucian Blaga")
        browser.find_element(By.CSS_SELECTOR, "#search button").click()
        time.sleep(0.2)
        by_name = verdict(browser, "station")
        assert by_name.ok, by_name
        assert "AB-1" in browser.find_element(By.ID, "station-view").text


@pytest.mark.parametrize("mode", MODES)
def test_a_station_index_that_points_at_another_stations_entry_is_caught(
    browser: WebDriver, tmp_path: Path, mode: str
) -> None:
    root = published(tmp_path)
    station_index(root)
    index = json.loads((root / "stations" / "AB-1.json").read_text())
    index["entries"]["report"].append(0)  # entry 0 is the election record
    (root / "stations" / "AB-1.json").write_text(json.dumps(index))
    with local_server(root) as server:
        got = page(browser, server.url, "station", mode, station="AB-1")
    assert not got.ok
    assert (got.code, got.category, got.file) == ("bad-index", "tiles", "stations/AB-1.json")


@pytest.mark.parametrize("mode", MODES)
def test_a_tampered_bundle_fails_the_station_and_names_the_file(
    browser: WebDriver, tmp_path: Path, mode: str
) -> None:
    root = published(tmp_path)
    bundle = root / "tile" / "entries" / "000"
    data = bytearray(bundle.read_bytes())
    first = int.from_bytes(data[:2], "big")
    data[2 + first + 2 + 40] ^= 1  # inside entry 1: the station record of AB-1
    bundle.write_bytes(bytes(data))
    with local_server(root) as server:
        got = page(browser, server.url, "station", mode, station="AB-1")
    assert not got.ok
    assert "tile/entries/000" in got.text


# --- languages, phone, secure context ---------------------------------------------------------


def test_romanian_first_then_english_on_the_switch(browser: WebDriver, site: str) -> None:
    page(browser, site, "checkpoint", "webcrypto")
    assert browser.execute_script("return document.documentElement.lang") == "ro"
    assert "Punctul de control" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.ID, "lang").click()
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert "The checkpoint" in browser.find_element(By.TAG_NAME, "main").text
    english = page(browser, site, "station", "webcrypto", station="AB-1", lang="en")
    assert english.text.startswith("Verified: Station AB-1")


def test_the_station_view_fits_a_phone_screen(site: str) -> None:
    with chromium(390, 844) as phone:
        got = open_page(phone, site, "station", station="AB-1")
        assert got.ok, got
        overflow = phone.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0


def test_without_a_secure_context_the_page_says_so_and_checks_in_javascript(site: str) -> None:
    port = site.rsplit(":", 1)[1]
    with chromium(insecure_host=True) as driver:
        got = open_page(driver, f"http://{INSECURE_HOST}:{port}", "checkpoint")
        assert got.ok, got
        assert driver.execute_script("return window.isSecureContext") is False
        assert driver.execute_script("return window.observer.cryptoMode()") == "js"
        warning = driver.find_element(By.ID, "insecure")
        assert warning.is_displayed()
        assert "https" in warning.text


def test_the_page_files_are_written_where_the_page_looks_for_them(tmp_path: Path) -> None:
    root = published(tmp_path, MET)
    assert (root / PAGE_FILE).is_file()
    for name in ASSETS:
        assert (root / ASSET_DIR / name).is_file(), name
    html = (root / PAGE_FILE).read_text()
    trust = json.loads(html.split('id="trust">', 1)[1].split("</script>", 1)[0])
    assert trust["vkey"] == EXPECTED["vkey"]
    assert trust["policy"]["quorum"] == "observer"
    assert trust["tz"] == "Europe/Bucharest"


# --- a mirror's copy ----------------------------------------------------------------------------


def test_a_mirrors_copy_serves_the_publishers_page_and_it_verifies_there(
    browser: WebDriver, tmp_path: Path
) -> None:
    root = published(tmp_path / "site", MET)
    mirror = Mirror(tmp_path / "mirror", parse_verifier_key(EXPECTED["vkey"]),
                    witness_key("mirror.example.org/copy"))
    with local_server(root) as server, HttpSource(server.url) as source:
        assert mirror.pull([source], workers=1).status == "moved"
    copy = tmp_path / "mirror" / origin_dir_name(EXPECTED["origin"])
    for name in PAGE_FILES:
        assert (copy / name).read_bytes() == (root / name).read_bytes(), name
    assert _PATH.fullmatch(f"{copy.name}/{ASSET_DIR}/app.js") is not None
    assert _PATH.fullmatch(f"{copy.name}/") is not None
    shutil.copytree(VALID / "receipts", copy / "receipts")
    with local_server(tmp_path / "mirror") as server:
        url = f"{server.url}/{copy.name}"
        browser.get(url + "#lang=en")  # the folder without its final slash: the page adds it
        assert verdict(browser, "checkpoint").ok
        assert browser.current_url == f"{url}/#lang=en"
        got = page(browser, url, "checkpoint", "webcrypto")
        assert got.ok, got  # the mirror's own cosignature is a key the page does not know
        got = page(browser, url, "receipt", "js",
                   receipt="receipts/SR-6-report-by-publisher.tlog-proof")
        assert got.ok, got


def _python_decode(data: bytes, kind: str) -> dict[str, Any]:
    try:
        if kind == "value":
            decode_value(data)
        elif kind == "record":
            decode_record(data)
        else:
            decode_entry_record(data)
    except VerificationError as e:
        return {"ok": False, "code": e.code, "category": e.category, "message": e.message}
    return {"ok": True}


def test_the_page_decodes_as_strictly_as_the_library(browser: WebDriver, site: str) -> None:
    page(browser, site, "checkpoint", "webcrypto")
    rejects = json.loads((VALID.parent / "codec_reject.json").read_text())["cases"]
    records = json.loads((VALID.parent / "records.json").read_text())["records"]
    cases = [(c["name"], c["hex"], c["decode_as"]) for c in rejects]
    cases += [(r["name"], encode_record(record_from_json(r["record"])).hex(), "record")
              for r in records if r["kind"] in KINDS]
    size = int((VALID / "checkpoint").read_bytes().split(b"\n")[1])
    cases += [(f"entry {i}", e.hex(), "entry")
              for i, e in enumerate(PublishedDirSource(VALID).iter_entries(0, size))]
    got = browser.execute_script(
        "return arguments[0].map(([, hex, as]) => window.observer.decode(hex, as));", cases)
    differences = [f"{name}: page {g}, library {w}" for (name, hex_, kind), g in
                   zip(cases, got, strict=True)
                   if g != (w := _python_decode(bytes.fromhex(hex_), kind))]
    assert differences == []
    assert sum(not g["ok"] for g in got) == len(rejects)


@pytest.mark.parametrize("mode", MODES)
def test_the_pages_ed25519_accepts_what_openssl_accepts(browser: WebDriver, site: str,
                                                        mode: str) -> None:
    # golden signatures, each with a bit flipped, S >= L, small-order and non-canonical keys and
    # R, mixed-order keys (benchmarks/ed25519_same_answer.py)
    page(browser, site, "checkpoint", mode)
    ed25519 = all_cases()
    got = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "(async () => { const out = [];"
        " for (const [p, m, s] of arguments[0]) out.push(await window.observer.verify(p, m, s));"
        " return out; })().then(done, (e) => done(String(e && e.stack || e)));",
        [(c.public_key.hex(), c.message.hex(), c.signature.hex()) for c in ed25519])
    differences = [f"{c.group}: {c.name}" for c, g in zip(ed25519, got, strict=True)
                   if g != cryptography_accepts(c.public_key, c.message, c.signature)
                   # the JavaScript path refuses every small-order key: the key rule refuses
                   # them before any signature is checked (docs/spec.md, "Identity and keys")
                   and not (mode == "js" and not is_prime_order_key(c.public_key))]
    assert differences == []
    assert sum(got) > 400


def test_publish_page_policy_on_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    good, bad = tmp_path / "observers.policy", tmp_path / "other.policy"
    good.write_text(MET)
    bad.write_text(MET.replace(EXPECTED["vkey"], format_verifier_key(verifier_key_for(
        EXPECTED["origin"], Signer(bytes(32)).public_key))))
    refused = runner.invoke(ledger_cli, ["publish", str(VALID), str(tmp_path / "no"),
                                         "--page-policy", str(bad)])
    assert refused.exit_code == 2, refused.output
    assert "another key" in refused.output
    assert not (tmp_path / "no" / "checkpoint").exists()
    done = runner.invoke(ledger_cli, ["publish", str(VALID), str(tmp_path / "out"),
                                      "--page-policy", str(good)])
    assert done.exit_code == 0, done.output
    assert '"quorum": "observer"' in (tmp_path / "out" / PAGE_FILE).read_text()
