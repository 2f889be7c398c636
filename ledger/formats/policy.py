"""C2SP tlog-policy files: which logs, which witnesses, and what quorum of them to trust.

A policy is read from a trusted channel (docs/spec.md, "Trust policies"). Parsing is strict:
each error names its line. Checking a checkpoint's cosignatures against a policy is pure: it
takes the note and the verifier's clock and raises :class:`VerificationError` (category
``witness``) when the quorum is not met.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ledger.errors import InputError, MalformedError, SignatureError, VerificationError, Where
from ledger.formats.keys import SIG_COSIGNATURE_V1, SIG_ED25519, VerifierKey, parse_verifier_key
from ledger.formats.notes import MAX_TIMESTAMP, NoteSignature, UnverifiedNote, verify_cosignature
from ledger.formats.text import parse_decimal

#: Bounds on an untrusted-size policy file (C2SP asks for at least 32 of each).
MAX_POLICY_SIZE = 1 << 20
MAX_POLICY_ITEMS = 1024
#: A cosignature more than this far ahead of the verifier's clock is refused (seconds).
MAX_CLOCK_SKEW = 600

NONE = "none"
_NAME = re.compile(r"[A-Za-z0-9._:/@-]{1,255}")
_URL = re.compile(r"https?://[!-~]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyLog:
    """A ``log`` line: the log's verifier key (its name is the origin) and an optional URL."""

    key: VerifierKey
    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyWitness:
    """A ``witness`` line: a name, a cosignature/v1 key and an optional submission prefix URL."""

    name: str
    key: VerifierKey
    url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyGroup:
    """A ``group`` line: met when at least ``threshold`` of its members are met."""

    name: str
    threshold: int
    members: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= len(self.members):
            raise ValueError(f"group {self.name}: threshold {self.threshold} of "
                             f"{len(self.members)} members")


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A parsed policy; ``quorum`` is a witness or group name, or ``None`` for ``quorum none``."""

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str | None

    def log_key(self, origin: str) -> VerifierKey | None:
        """The key of the ``log`` line whose key name is ``origin``, if any."""
        return next((log.key for log in self.logs if log.key.name == origin), None)

    @property
    def witness_keys(self) -> tuple[VerifierKey, ...]:
        """Every witness's cosignature key, in policy order."""
        return tuple(w.key for w in self.witnesses)

    def met_by(self, signers: Iterable[str]) -> bool:
        """Whether the witnesses named in ``signers`` (policy names) meet the quorum."""
        return self.shortfall(signers) is None

    def shortfall(self, signers: Iterable[str]) -> PolicyGroup | str | None:
        """``None`` when the quorum is met; else the innermost group (or the lone witness) whose
        failure made the quorum fail."""
        if self.quorum is None:
            return None
        met = set(signers)
        groups = {g.name: g for g in self.groups}
        return _shortfall(self.quorum, met, groups)


def _is_met(name: str, met: set[str], groups: Mapping[str, PolicyGroup]) -> bool:
    group = groups.get(name)
    if group is None:
        return name in met
    return sum(_is_met(m, met, groups) for m in group.members) >= group.threshold


def _shortfall(
    name: str, met: set[str], groups: Mapping[str, PolicyGroup]
) -> PolicyGroup | str | None:
    if _is_met(name, met, groups):
        return None
    group = groups.get(name)
    if group is None:
        return name
    # When one member alone stands in the way and it is a group, name what it lacks.
    failing = [m for m in group.members if not _is_met(m, met, groups)]
    if len(failing) == 1 and failing[0] in groups:
        return _shortfall(failing[0], met, groups)
    return group


# --- parsing ------------------------------------------------------------------------------------


def _fail(message: str, line: int, file: str | None) -> InputError:
    return InputError(f"policy: {message}", where=Where(file=file, line=line))


def _key(text: str, want: int, what: str, line: int, file: str | None) -> VerifierKey:
    try:
        key = parse_verifier_key(text)
    except InputError as e:
        raise _fail(f"{what}: {e.message}", line, file) from e
    if key.type != want:
        raise _fail(f"{what} key must have type 0x{want:02x}, got 0x{key.type:02x}", line, file)
    return key


def _url(fields: list[str], at: int, line: int, file: str | None) -> str | None:
    if len(fields) == at:
        return None
    if len(fields) > at + 1:
        raise _fail(f"{fields[0]} line has {len(fields) - at - 1} fields too many", line, file)
    if not _URL.fullmatch(fields[at]):
        raise _fail(f"{fields[at][:80]!r} is not an http(s) URL", line, file)
    return fields[at]


def _threshold(text: str, members: int, name: str, line: int, file: str | None) -> int:
    if text == "any":
        return 1
    if text == "all":
        return members
    try:
        n = parse_decimal(text, what="group threshold", limit=MAX_POLICY_ITEMS)
    except MalformedError as e:
        raise _fail(f"group {name}: threshold must be a number, any or all: {e.message}",
                    line, file) from e
    if not 1 <= n <= members:
        raise _fail(f"group {name}: threshold {n} is not between 1 and its {members} members",
                    line, file)
    return n


@dataclass(slots=True)
class _Parser:
    file: str | None
    logs: list[PolicyLog]
    witnesses: dict[str, PolicyWitness]
    groups: dict[str, PolicyGroup]
    public_keys: dict[bytes, int]
    quorum: tuple[str | None, int] | None = None

    def name(self, text: str, line: int) -> str:
        if text == NONE or not _NAME.fullmatch(text):
            raise _fail(f"{text[:80]!r} is not a usable witness or group name", line, self.file)
        if text in self.witnesses or text in self.groups:
            raise _fail(f"{text!r} is defined twice", line, self.file)
        return text

    def new_key(self, key: VerifierKey, line: int) -> None:
        first = self.public_keys.get(key.public_key)
        if first is not None:
            raise _fail(f"key {key.name} has the same public key as line {first}", line,
                        self.file)
        self.public_keys[key.public_key] = line
        if len(self.public_keys) + len(self.groups) > MAX_POLICY_ITEMS:
            raise _fail(f"more than {MAX_POLICY_ITEMS} logs, witnesses and groups", line,
                        self.file)

    def line(self, fields: list[str], n: int) -> None:
        keyword, args = fields[0], fields[1:]
        if keyword == "log":
            if not args:
                raise _fail("log line has no key", n, self.file)
            key = _key(args[0], SIG_ED25519, "log", n, self.file)
            self.new_key(key, n)
            if any(log.key.name == key.name for log in self.logs):
                raise _fail(f"two log lines for origin {key.name}", n, self.file)
            self.logs.append(PolicyLog(key=key, url=_url(fields, 2, n, self.file)))
        elif keyword == "witness":
            if len(args) < 2:
                raise _fail("witness line needs a name and a key", n, self.file)
            name = self.name(args[0], n)
            key = _key(args[1], SIG_COSIGNATURE_V1, f"witness {name}", n, self.file)
            self.new_key(key, n)
            self.witnesses[name] = PolicyWitness(name=name, key=key,
                                                 url=_url(fields, 3, n, self.file))
        elif keyword == "group":
            self.group(args, n)
        elif keyword == "quorum":
            if len(args) != 1:
                raise _fail("quorum line takes exactly one name", n, self.file)
            if self.quorum is not None:
                raise _fail(f"a second quorum line (the first is line {self.quorum[1]})", n,
                            self.file)
            target = args[0]
            if target != NONE and target not in self.witnesses and target not in self.groups:
                raise _fail(f"quorum names {target!r}, not a witness or group defined above",
                            n, self.file)
            self.quorum = (None if target == NONE else target, n)
        else:
            raise _fail(f"unknown keyword {keyword[:40]!r}", n, self.file)

    def group(self, args: list[str], n: int) -> None:
        if len(args) < 3:
            raise _fail("group line needs a name, a threshold and at least one member", n,
                        self.file)
        name = self.name(args[0], n)
        members = args[2:]
        for member in members:
            if member == NONE:
                raise _fail(f"group {name}: none is not a member", n, self.file)
            if member not in self.witnesses and member not in self.groups:
                raise _fail(f"group {name}: {member[:80]!r} is not a witness or group "
                            "defined above", n, self.file)
        seen: set[str] = set()
        for member in members:
            if member in seen:
                raise _fail(f"group {name}: member {member} is listed twice", n, self.file)
            seen.add(member)
        threshold = _threshold(args[1], len(members), name, n, self.file)
        self.groups[name] = PolicyGroup(name=name, threshold=threshold, members=tuple(members))
        if len(self.public_keys) + len(self.groups) > MAX_POLICY_ITEMS:
            raise _fail(f"more than {MAX_POLICY_ITEMS} logs, witnesses and groups", n, self.file)


def parse_policy(data: bytes, *, file: str | None = None) -> Policy:
    """Parse a tlog-policy file: ``log``, ``witness``, ``group`` and one ``quorum`` line.

    Lines are split on spaces; empty lines and lines starting with ``#`` are comments.

    Raises:
        InputError: not UTF-8, too large, or any line breaks a rule (the line is named).
    """
    if len(data) > MAX_POLICY_SIZE:
        raise InputError(f"policy: larger than {MAX_POLICY_SIZE} bytes", where=Where(file=file))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError("policy: not UTF-8", where=Where(file=file)) from e
    parser = _Parser(file=file, logs=[], witnesses={}, groups={}, public_keys={})
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, raw in enumerate(lines, start=1):
        line = raw.removesuffix("\r")
        if "\t" in line or any(ord(c) < 0x20 for c in line):
            raise _fail("a control character or tab", n, file)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parser.line(line.split(), n)
    if parser.quorum is None:
        raise InputError("policy: no quorum line", where=Where(file=file))
    return Policy(logs=tuple(parser.logs), witnesses=tuple(parser.witnesses.values()),
                  groups=tuple(parser.groups.values()), quorum=parser.quorum[0])


# --- checking a checkpoint against a policy --------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Witnessed:
    """The policy witnesses whose cosignature verified, with their timestamps."""

    cosigned_by: tuple[str, ...]
    timestamps: tuple[int, ...]


def check_witnessed(note: UnverifiedNote, policy: Policy, *, now: int) -> Witnessed:
    """Check every cosignature of a policy witness in ``note`` and that they meet the quorum.

    ``note`` is a checkpoint whose log signature was verified already; ``now`` is the
    verifier's clock (Unix seconds). Signature lines of keys the policy does not list are
    ignored (C2SP signed-note).

    Raises:
        MalformedError: a policy witness's cosignature has a timestamp over 2^63 - 1.
        SignatureError: (category ``witness``) a policy witness's cosignature does not verify.
        VerificationError: (category ``witness``) a cosignature is more than 10 minutes ahead
            of ``now``, or the quorum is not met (the message names the group that fell short
            and who cosigned).
    """
    by_key = {(w.key.name, w.key.key_hash): w for w in policy.witnesses}
    names: list[str] = []
    stamps: list[int] = []
    for sig in note.signatures:
        witness = by_key.get((sig.name, sig.key_hash))
        if witness is None:
            continue
        if witness.name in names:
            raise MalformedError(f"checkpoint has two cosignatures of witness {witness.name}",
                                 category="witness")
        stamps.append(_check_one(note.text, sig, witness, now))
        names.append(witness.name)
    short = policy.shortfall(names)
    if short is not None:
        who = ", ".join(names) if names else "no listed witness"
        if isinstance(short, PolicyGroup):
            need = f"group {short.name} needs {short.threshold} of {', '.join(short.members)}"
        else:
            need = f"the quorum needs witness {short}"
        raise VerificationError(f"checkpoint is not cosigned to the policy's quorum: {need}; "
                                f"cosigned by {who}", category="witness", code="quorum")
    return Witnessed(cosigned_by=tuple(names), timestamps=tuple(stamps))


def _check_one(text: str, sig: NoteSignature, witness: PolicyWitness, now: int) -> int:
    raw = sig.signature
    if len(raw) >= 8 and int.from_bytes(raw[:8], "big") > MAX_TIMESTAMP:
        raise MalformedError(f"cosignature of {witness.name} has a timestamp over 2^63 - 1",
                             category="witness", code="cosignature-timestamp")
    try:
        timestamp = verify_cosignature(text, sig, witness.key)
    except SignatureError as e:
        raise SignatureError(f"cosignature of witness {witness.name} does not verify: "
                             f"{e.message}", category="witness", code="bad-cosignature") from e
    if timestamp > now + MAX_CLOCK_SKEW:
        raise VerificationError(f"cosignature of witness {witness.name} is dated {timestamp}, "
                                f"more than {MAX_CLOCK_SKEW} s ahead of this clock ({now})",
                                category="witness", code="cosignature-in-future")
    return timestamp
