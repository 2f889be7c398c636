"""The trust options every verifying command shares: `--pub FILE` and `--policy FILE`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ledger.auditor.trust import Trust, trust_for
from ledger.files import read_policy, read_verifier_key
from ledger.formats.keys import VerifierKey
from ledger.formats.policy import Policy


def trust_options(f: Any) -> Any:
    """`--pub FILE` (the log's key) and `--policy FILE` (logs, witnesses and their quorum)."""
    f = click.option("--policy", "policy", metavar="FILE", default=None,
                     help="A tlog-policy file: the checkpoint must be signed by a listed log "
                          "and cosigned to its quorum.")(f)
    return click.option("--pub", "pub", metavar="FILE", default=None,
                        help="The publisher's verifier key (one line; its key name is the "
                             "origin). Optional with --policy.")(f)


@dataclass(frozen=True, slots=True)
class TrustFiles:
    """What `--pub` and `--policy` hold, read before any source is opened."""

    key: VerifierKey | None
    policy: Policy | None

    def resolve(self, note: Callable[[], bytes]) -> Trust:
        """The trust for the log; ``note`` reads the checkpoint that names the origin (called
        only when a policy is given without a key)."""
        wants_note = self.policy is not None and self.key is None
        return trust_for(self.key, self.policy, note() if wants_note else None)


def read_trust(pub: str | None, policy: str | None) -> TrustFiles:
    """Read the files of `--pub` and `--policy` (at least one is needed)."""
    if pub is None and policy is None:
        raise click.UsageError("give --pub FILE, --policy FILE, or both")
    return TrustFiles(None if pub is None else read_verifier_key(pub),
                      None if policy is None else read_policy(policy))
