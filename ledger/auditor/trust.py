"""Trust inputs of the verifying commands: the log key, alone or from a policy, and the
policy's witness quorum (docs/spec.md, "Trust policies")."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ledger.errors import InputError, MalformedError
from ledger.formats.checkpoints import parse_checkpoint
from ledger.formats.keys import VerifierKey
from ledger.formats.notes import parse_unverified_note
from ledger.formats.policy import Policy, Witnessed, check_witnessed


@dataclass(frozen=True, slots=True, kw_only=True)
class Trust:
    """The log's key and, when a policy is given, the witnesses and quorum it also requires."""

    log_key: VerifierKey
    policy: Policy | None = None

    def check_witnessed(self, note: bytes, *, now: int | None = None) -> Witnessed | None:
        """With a policy: the note's cosignatures meet its quorum (``now``: Unix seconds,
        default this clock). Without one: nothing to check, ``None``.

        Raises:
            VerificationError: (category ``witness``) see :func:`check_witnessed`.
        """
        if self.policy is None:
            return None
        parsed = parse_unverified_note(note, category="checkpoint")
        clock = int(time.time()) if now is None else now
        return check_witnessed(parsed, self.policy, now=clock)


def trust_for(pub: VerifierKey | None, policy: Policy | None, note: bytes | None) -> Trust:
    """The trust of a verifying command: the key given, or the policy's ``log`` line whose key
    name is the origin of ``note`` (a checkpoint, read unverified only to find its origin).

    Raises:
        InputError: neither a key nor a policy; the policy has no log for the origin; the key
            given is not the policy's key for it; or ``note`` is not a checkpoint at all.
    """
    if policy is None:
        if pub is None:
            raise InputError("a verifier key or a policy is needed")
        return Trust(log_key=pub)
    if pub is not None:
        origin = pub.name
    elif note is None:
        raise InputError("no checkpoint to take the origin from")
    else:
        try:
            origin = parse_checkpoint(parse_unverified_note(note).text).origin
        except MalformedError as e:
            raise InputError(f"not a signed checkpoint: {e.message}") from e
    key = policy.log_key(origin)
    if key is None:
        raise InputError(f"the policy has no log line for origin {origin[:120]!r}")
    if pub is not None and pub != key:
        raise InputError(f"the verifier key given is not the policy's key for {origin}: "
                         f"{pub.key_hash.hex()} against {key.key_hash.hex()}")
    return Trust(log_key=key, policy=policy)

