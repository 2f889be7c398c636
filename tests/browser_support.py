"""A real headless Chromium for the observer page's tests: Debian's ``chromium`` driven by
selenium through Debian's ``chromedriver`` (nothing downloaded). Missing, it fails the test
with what to install: it never skips."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: A name that is not localhost, mapped to 127.0.0.1: an origin that is no secure context.
INSECURE_HOST = "observer.test"


def require_chromium() -> None:
    """Fail (never skip) when the browser or its driver is missing."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: `make browser` installs Debian's chromium "
                    "and chromium-driver (apt-get install chromium chromium-driver)")


@contextmanager
def chromium(width: int = 1100, height: int = 900, *, insecure_host: bool = False
             ) -> Iterator[WebDriver]:
    """A headless Chromium, stopped when the block ends."""
    require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--disable-background-networking",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")
    if insecure_host:
        options.add_argument(f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass(frozen=True)
class Verdict:
    """The page's machine-readable verdict: ``<output id="verdict">``."""

    ok: bool
    check: str
    code: str
    category: str
    file: str
    text: str


def verdict(driver: WebDriver, check: str, *, timeout: float = 60.0) -> Verdict:
    """Wait (bounded) for the page's verdict of ``check`` and return it."""
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, Any] = driver.execute_script(
            "const v = document.getElementById('verdict');"
            "return {ok: v.dataset.ok, check: v.dataset.check, code: v.dataset.code || '',"
            " category: v.dataset.category || '', file: v.dataset.file || '',"
            " text: v.textContent};")
        if got["check"] == check and got["ok"] in ("true", "false"):
            return Verdict(ok=got["ok"] == "true", check=check, code=got["code"],
                           category=got["category"], file=got["file"], text=got["text"])
        if time.monotonic() > deadline:
            raise AssertionError(f"no {check} verdict within {timeout} s: {got}")
        time.sleep(0.05)


def open_page(driver: WebDriver, url: str, check: str, **params: str) -> Verdict:
    """Load the page with ``params`` in its address's fragment and wait for ``check``."""
    fragment = "&".join(f"{k.replace('_', '-')}={v}" for k, v in params.items())
    driver.get("about:blank")
    driver.get(f"{url}/index.html" + (f"#{fragment}" if fragment else ""))
    return verdict(driver, check)
