"""The observer's page (docs/observer.md): ``index.html`` and its script and style files, written
into every published tree.

The page's trust inputs are its own: the publisher's verifier key and, when given, the witness
policy observers should require, written into ``index.html`` as a JSON block; the election's time
zone and the names of report letters come with them, for display only. The page reads every
other file by a relative URL, so a mirror's copy works as the publisher's does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ledger.check.rule_sets import COUNT_MEANINGS, FIELD_MEANINGS
from ledger.errors import InputError
from ledger.formats.keys import VerifierKey, format_verifier_key
from ledger.formats.policy import Policy
from ledger.formats.records import Election

#: The page, at the root of the published tree.
PAGE_FILE = "index.html"
#: Where its scripts, style and vendored library go, beside it.
ASSET_DIR = "observer"
#: The files of the page, as the package holds them under ``ledger/publisher/page/``.
ASSETS = (
    "app.js",
    "checks.js",
    "codec.js",
    "crypto.js",
    "page.css",
    "vendor/noble-ed25519.js",
    "vendor/LICENSE",
    "vendor/README.md",
)
PAGE_FILES = (PAGE_FILE, *(f"{ASSET_DIR}/{name}" for name in ASSETS))
_TRUST_BLOCK = '<script type="application/json" id="trust">{}</script>'
PAGE_FORMAT = "election-ledger/v1 observer page"


@dataclass(frozen=True, slots=True, kw_only=True)
class PageTrust:
    """What the page trusts (the publisher key, the observers' policy) and shows (the zone)."""

    vkey: VerifierKey
    policy: Policy | None = None
    election: Election | None = None


def _source(name: str) -> bytes:
    return resources.files("ledger.publisher").joinpath("page", name).read_bytes()


def _policy_json(policy: Policy, vkey: VerifierKey) -> dict[str, Any]:
    """The policy as the page reads it; its log line for the origin must be the publisher's key.

    Raises:
        InputError: the policy names another key for this log, or none.
    """
    key = policy.log_key(vkey.name)
    if key is None:
        raise InputError(f"the page's policy has no log line for origin {vkey.name[:120]!r}")
    if key != vkey:
        raise InputError(f"the page's policy names another key for {vkey.name}: "
                         f"{key.key_hash.hex()}, the publisher's is {vkey.key_hash.hex()}")
    return {
        "witnesses": [{"name": w.name, "vkey": format_verifier_key(w.key)}
                      for w in policy.witnesses],
        "groups": [{"name": g.name, "threshold": g.threshold, "members": list(g.members)}
                   for g in policy.groups],
        "quorum": policy.quorum,
    }


def trust_json(trust: PageTrust) -> dict[str, Any]:
    """The JSON block written into ``index.html``."""
    election = trust.election
    categories = {} if election is None else {
        code: c.rules for code, c in sorted(election.categories.items())}
    return {
        "format": PAGE_FORMAT,
        "origin": trust.vkey.name,
        "vkey": format_verifier_key(trust.vkey),
        "policy": None if trust.policy is None else _policy_json(trust.policy, trust.vkey),
        "election": None if election is None else election.name,
        "tz": None if election is None else election.tz,
        "categories": categories,
        "fields": {rules: dict(meanings) for rules, meanings in FIELD_MEANINGS.items()
                   if rules in categories.values()},
        "counts": dict(COUNT_MEANINGS),
    }


def page_files(trust: PageTrust) -> dict[str, bytes]:
    """Every file of the page, by its path in the published tree.

    Raises:
        InputError: see :func:`_policy_json`.
    """
    block = json.dumps(trust_json(trust), ensure_ascii=False, sort_keys=True)
    # Inside <script>, "<" is written as \u003c so that no text can close the element.
    block = block.replace("<", "\\u003c")
    html = _source(PAGE_FILE).decode("utf-8")
    if html.count(_TRUST_BLOCK) != 1:  # pragma: no cover - the package's own file
        raise ValueError("the page template has no trust block")
    html = html.replace(_TRUST_BLOCK, f'<script type="application/json" id="trust">{block}'
                                      "</script>")
    files = {PAGE_FILE: html.encode("utf-8")}
    for name in ASSETS:
        files[f"{ASSET_DIR}/{name}"] = _source(name)
    return files
