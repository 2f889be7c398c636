"""Pictures of the observer's page for docs/observer.md (``make screenshots``): the checkpoint, a
receipt and a station, at desktop and phone sizes, from the golden log served on 127.0.0.1."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.browser_support import chromium, open_page
from tests.http_support import local_server
from tests.test_observer_page import MET, published

VIEWS = {
    "checkpoint": ("checkpoint", {}),
    "receipt": ("receipt", {"receipt": "receipts/AB-1-report.tlog-proof",
                            "station_receipt": "receipts/AB-1-station.tlog-proof"}),
    "station": ("station", {"station": "AB-1"}),
}
SIZES = {"desktop": (1100, 1400), "phone": (390, 1600)}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, local_server(published(Path(tmp) / "site", MET)
                                                           ) as server:
        for size, (width, height) in SIZES.items():
            with chromium(width, height) as driver:
                for view, (check, params) in VIEWS.items():
                    got = open_page(driver, server.url, check, **params)
                    if not got.ok:
                        raise SystemExit(f"{view}: {got.text}")
                    if view != "checkpoint":
                        driver.execute_script(
                            f"document.getElementById('{view}-view').scrollIntoView()")
                    path = out / f"observer-{view}-{size}.png"
                    driver.save_screenshot(str(path))
                    sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
