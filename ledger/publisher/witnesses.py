"""The publisher collects witness cosignatures (docs/spec.md, "Witness protocol"; docs/publisher.md,
"Collecting cosignatures").

:func:`collect_cosignatures` sends the ledger's latest checkpoint, with a consistency proof from
the size each witness was last known to hold, to every witness of a policy that has a URL, all
in parallel under one deadline. A 409 naming another size is retried once from that size. The
cosignatures that verify are stored in the ledger with the checkpoint (so ``publish`` and
``prove`` serve them), with the size each witness now holds.

It never sends a checkpoint it would not sign itself: the note must verify with the ledger's
publisher key, be the latest it signed, and its root must be the root of the stored entries.

The HTTP client is the standard library's ``http.client``: one request per witness per round,
a socket time-out, and an overall deadline, so a witness that is down delays the others by at
most the time-out.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import (
    InputError,
    LedgerError,
    MalformedError,
    SignatureError,
    StoreCorruptError,
    VerificationError,
)
from ledger.formats.checkpoints import open_ledger_checkpoint
from ledger.formats.keys import format_verifier_key
from ledger.formats.notes import (
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    NoteSignature,
    format_note,
    parse_signature_line,
    parse_unverified_note,
    verify_cosignature,
)
from ledger.formats.policy import Policy, PolicyWitness
from ledger.formats.text import encode_base64
from ledger.publisher.publish import PublishResult, publish
from ledger.store.layout import DATA_FILE, META_COSIGNED_CHECKPOINT, META_WITNESS_SIZES

if TYPE_CHECKING:
    from ledger.publisher.ledger import Ledger

#: Seconds each witness has to answer (connect, send, whole answer) in each round.
DEFAULT_TIMEOUT = 5.0
#: The largest answer read from a witness: cosignature lines, or a size, or a one-line reason.
MAX_ANSWER = 64 * 1024
#: A cosignature dated further than this ahead of the publisher's clock is not kept (seconds).
MAX_CLOCK_SKEW = 600
SIZE_CONTENT_TYPE = "text/x.tlog.size"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpAnswer:
    """One witness's HTTP answer: status, content type and body (at most MAX_ANSWER bytes)."""

    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessResult:
    """What one witness answered.

    ``status`` is the HTTP status of its last answer (None when it gave none: down, refused the
    connection, or too slow); ``old`` the size the last request was sent from; ``retried`` says
    a 409 was retried from the size it named; ``held`` the size the witness now holds as far as
    the publisher knows (None when unknown).
    """

    name: str
    url: str
    cosigned: bool
    status: int | None
    detail: str
    old: int
    retried: bool = False
    held: int | None = None
    timestamp: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Cosigned:
    """The checkpoint sent, the note stored with every cosignature, and each witness's answer."""

    origin: str
    size: int
    note: bytes
    results: tuple[WitnessResult, ...]
    #: Policy witnesses with no URL: not asked.
    not_asked: tuple[str, ...]
    #: Whether the cosignatures of this note meet the policy's quorum (True for ``quorum none``).
    quorum_met: bool

    @property
    def cosigned_by(self) -> tuple[str, ...]:
        """The witnesses that cosigned in this round, in policy order."""
        return tuple(r.name for r in self.results if r.cosigned)


def add_checkpoint_body(old: int, proof: Sequence[bytes], note: bytes) -> bytes:
    """A C2SP tlog-witness ``add-checkpoint`` request body."""
    lines = "".join(encode_base64(h) + "\n" for h in proof)
    return f"old {old}\n{lines}\n".encode("ascii") + note


def post_add_checkpoint(url: str, body: bytes, *, timeout: float) -> HttpAnswer:
    """POST ``body`` to ``<url>/add-checkpoint``; every socket step has ``timeout`` seconds and
    the whole answer must arrive within it too.

    Raises:
        InputError: ``url`` is not an http(s) URL.
        OSError: no answer (connection refused or reset, time-out, a broken answer).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"a witness URL must be http(s): {url!r}")
    path = parts.path.rstrip("/") + "/add-checkpoint"
    connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                        else http.client.HTTPConnection)
    give_up = time.monotonic() + timeout
    conn = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={
            "Content-Type": "text/plain; charset=utf-8", "User-Agent": "election-ledger"})
        response = conn.getresponse()
        chunks: list[bytes] = []
        got = 0
        while got <= MAX_ANSWER:  # bounded: each round reads at least one byte or ends
            if time.monotonic() > give_up:
                raise TimeoutError(f"no whole answer within {timeout:g} s")
            chunk = response.read1(MAX_ANSWER + 1 - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return HttpAnswer(status=response.status,
                          content_type=response.getheader("Content-Type", "") or "",
                          body=b"".join(chunks)[: MAX_ANSWER + 1])
    except http.client.HTTPException as e:
        raise OSError(f"broken HTTP answer: {e!r}") from e
    finally:
        conn.close()


Poster = Callable[[str, bytes], HttpAnswer]


def _in_parallel(jobs: dict[str, Callable[[], HttpAnswer]],
                 deadline: float) -> dict[str, HttpAnswer | str]:
    """Run each job in a thread of its own; wait until all end or ``deadline`` (monotonic).

    A job still running at the deadline is given up (its thread is a daemon, ended by its own
    socket time-out); its result is the string "no answer within the time-out".
    """
    results: dict[str, HttpAnswer | str] = {}
    lock = threading.Lock()

    def run(name: str, job: Callable[[], HttpAnswer]) -> None:
        try:
            outcome: HttpAnswer | str = job()
        except (OSError, LedgerError) as e:
            outcome = f"no answer: {e}"
        with lock:
            results[name] = outcome

    threads = [threading.Thread(target=run, args=(name, job), daemon=True,
                                name=f"witness {name}") for name, job in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return {name: results.get(name, "no answer within the time-out") for name in jobs}


def _one_line(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip().splitlines()
    return (text[0] if text else "")[:200]


def _cosignature(answer: HttpAnswer, witness: PolicyWitness, text: str,
                 now: int) -> tuple[NoteSignature | None, int | None, str]:
    """The witness's verified cosignature line in a 200 answer, its timestamp, and why not."""
    try:
        lines = answer.body.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None, None, "answered 200 with a body that is not UTF-8"
    why = "answered 200 without a cosignature line of its key"
    for line in lines[:MAX_SIGNATURES]:
        try:
            sig = parse_signature_line(line)
        except MalformedError:
            continue
        if (sig.name, sig.key_hash) != (witness.key.name, witness.key.key_hash):
            continue
        try:
            stamp = verify_cosignature(text, sig, witness.key)
        except (SignatureError, MalformedError) as e:
            why = f"answered 200 with a cosignature that does not verify: {e.message}"
            continue
        if stamp > now + MAX_CLOCK_SKEW:
            why = f"answered a cosignature dated {stamp}, ahead of this clock ({now})"
            continue
        return sig, stamp, "cosigned"
    return None, None, why


def _held_size(answer: HttpAnswer) -> int | None:
    if answer.status != 409 or not answer.content_type.startswith(SIZE_CONTENT_TYPE):
        return None
    text = answer.body.decode("ascii", errors="replace").strip()
    if not text.isdigit() or len(text) > 20:
        return None
    return int(text)


def _sizes(ledger: Ledger) -> dict[str, int]:
    raw = ledger.store.meta(META_WITNESS_SIZES)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise StoreCorruptError(f"ledger {ledger.store.path}: stored witness sizes: {e}") from e
    if not isinstance(value, dict):
        raise StoreCorruptError(f"ledger {ledger.store.path}: stored witness sizes: not a map")
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int) and v >= 0}


def collect_cosignatures(
    ledger: Ledger, witnesses: Policy, *, timeout: float = DEFAULT_TIMEOUT,
    post: Poster | None = None, clock: Callable[[], float] = time.time,
) -> Cosigned:
    """Ask every witness of ``witnesses`` with a URL to cosign the ledger's latest checkpoint,
    store the cosignatures got, and return who cosigned.

    The ledger must be open for writing (the cosignatures and witness sizes are stored in it).
    Each round (the first, then the retries of 409s) waits at most ``timeout`` seconds, so the
    whole call takes at most twice the time-out. Witnesses already holding cosignatures of this
    checkpoint keep them unless they cosign again. ``post(url, body)`` replaces the HTTP client
    (tests).

    Raises:
        InputError: nothing is sealed yet; the policy has a log line for the ledger's origin
            with another key; ``timeout`` is not positive.
        StoreCorruptError: the latest checkpoint is not one the publisher would sign (it does
            not verify with the ledger's key, or its root is not the stored entries' root).
        StoreError: the cosignatures cannot be stored.
    """
    if not timeout > 0:
        raise InputError(f"the witness time-out must be positive, got {timeout}")
    signed = ledger.latest_checkpoint()
    if signed is None:
        raise InputError(f"ledger {ledger.store.path} has no signed checkpoint yet: seal a block "
                         "first")
    listed = witnesses.log_key(ledger.origin)
    if listed is not None and listed != ledger.verifier_key:
        raise InputError(f"the witnesses' policy lists another key for {ledger.origin}: "
                         f"{listed.key_hash.hex()}, not this ledger's "
                         f"{ledger.verifier_key.key_hash.hex()}")
    checkpoint = signed.checkpoint
    # Never send what the publisher would not sign: its own key, the stored tree's root.
    text = signed.note.text
    own = [s for s in signed.note.signatures
           if (s.name, s.key_hash) == (ledger.verifier_key.name, ledger.verifier_key.key_hash)]
    note = format_note(text, own[:1])
    try:
        open_ledger_checkpoint(note, ledger.verifier_key)
    except VerificationError as e:
        raise StoreCorruptError(f"ledger {ledger.store.path}: the latest checkpoint does not "
                                f"verify with the publisher's key: {e}: not sent") from e
    if ledger.root(checkpoint.size) != checkpoint.root:
        raise StoreCorruptError(f"ledger {ledger.store.path}: the latest checkpoint's root is not "
                                f"the root of its {checkpoint.size} entries: not sent")
    sender: Poster = post or (lambda url, body: post_add_checkpoint(url, body, timeout=timeout))
    asked = [w for w in witnesses.witnesses if w.url is not None]
    known = _sizes(ledger)
    now = int(clock())

    def body_from(old: int) -> bytes:
        proof = ledger.consistency_proof(old, checkpoint.size) if 0 < old < checkpoint.size \
            else []
        return add_checkpoint_body(old, proof, note)

    def job(url: str, body: bytes) -> Callable[[], HttpAnswer]:
        return lambda: sender(url, body)

    results: dict[str, WitnessResult] = {}
    bodies: dict[str, bytes] = {}
    for w in asked:
        old = known.get(format_verifier_key(w.key), 0)
        old = old if old <= checkpoint.size else 0
        results[w.name] = WitnessResult(name=w.name, url=str(w.url), cosigned=False, status=None,
                                        detail="", old=old)
        bodies[w.name] = body_from(old)
    lines: dict[str, NoteSignature] = {}
    by_name = {w.name: w for w in asked}
    for round_ in (1, 2):  # the first round, then one retry of each 409 that named a size
        answers = _in_parallel({name: job(by_name[name].url or "", body)
                                for name, body in bodies.items()},
                               time.monotonic() + timeout)
        retry: dict[str, bytes] = {}
        for name, answer in answers.items():
            result = results[name]
            if isinstance(answer, str):
                results[name] = replace(result, status=None, detail=answer)
                continue
            if answer.status == 200:
                sig, stamp, why = _cosignature(answer, by_name[name], text, now)
                if sig is not None:
                    lines[name] = sig
                results[name] = replace(result, status=200, cosigned=sig is not None,
                                        detail=why, held=checkpoint.size if sig else None,
                                        timestamp=stamp)
                continue
            held = _held_size(answer)
            if held is not None and round_ == 1 and held <= checkpoint.size:
                retry[name] = body_from(held)
                results[name] = replace(result, status=409, old=held, retried=True, held=held,
                                        detail=f"holds size {held}: retried from it")
                continue
            why = _one_line(answer.body)
            if held is not None and held > checkpoint.size:
                why = (f"holds size {held}, larger than this log's {checkpoint.size}: it was "
                       "shown another log")
            results[name] = replace(result, status=answer.status, detail=why,
                                    held=held if held is not None else result.held)
        if not retry:
            break
        bodies = retry
    stored = _merge(ledger, text, note, lines, asked)
    for w in asked:
        held = results[w.name].held
        if held is not None:
            known[format_verifier_key(w.key)] = held
    ledger.store.put_meta(META_COSIGNED_CHECKPOINT, stored)
    ledger.store.put_meta(META_WITNESS_SIZES,
                          json.dumps(known, sort_keys=True).encode("utf-8"))
    names = [w.name for w in witnesses.witnesses
             if (w.key.name, w.key.key_hash) in
             {(s.name, s.key_hash) for s in parse_unverified_note(stored).signatures}]
    return Cosigned(origin=checkpoint.origin, size=checkpoint.size, note=stored,
                    results=tuple(results[w.name] for w in asked),
                    not_asked=tuple(w.name for w in witnesses.witnesses if w.url is None),
                    quorum_met=witnesses.met_by(names))


def _merge(ledger: Ledger, text: str, note: bytes, new: dict[str, NoteSignature],
           asked: Sequence[PolicyWitness]) -> bytes:
    """The note with the publisher's signature, this round's cosignatures, and those stored
    before for this very checkpoint by witnesses that did not cosign again."""
    base = parse_unverified_note(note)
    fresh = {(s.name, s.key_hash) for s in new.values()}
    kept: list[NoteSignature] = []
    before = ledger.store.meta(META_COSIGNED_CHECKPOINT)
    if before is not None:
        try:
            old = parse_unverified_note(before)
        except MalformedError:
            old = None
        if old is not None and old.text == text:
            mine = {(s.name, s.key_hash) for s in base.signatures}
            kept = [s for s in old.signatures
                    if (s.name, s.key_hash) not in fresh | mine]
    ordered = [new[w.name] for w in asked if w.name in new]
    signatures = [*base.signatures, *ordered, *kept][:MAX_SIGNATURES]
    merged = format_note(text, signatures)
    if len(merged) > MAX_NOTE_SIZE:
        return format_note(text, [*base.signatures, *ordered])
    return merged


def publish_cosigned(
    ledger: str | os.PathLike[str], outdir: str | os.PathLike[str], witnesses: Policy, *,
    timeout: float = DEFAULT_TIMEOUT, progress: Callable[[int, int], None] | None = None,
    page_policy: Policy | None = None, endpoint_url: str | None = None, full: bool = False,
) -> tuple[Cosigned, PublishResult]:
    """Open the ledger directory for writing, collect the witnesses' cosignatures of its latest
    checkpoint (:func:`collect_cosignatures`), then publish it with them into ``outdir`` (a
    directory, or an ``s3://`` URL at ``endpoint_url``).

    Raises what :func:`collect_cosignatures` and :func:`~ledger.publisher.publish.publish`
    raise; InputError when ``ledger`` is not a ledger directory; StoreLockedError when another
    process writes the ledger.
    """
    from ledger.publisher.ledger import Ledger

    if not (Path(ledger) / DATA_FILE).is_file():
        raise InputError(f"collecting cosignatures needs the publisher's own ledger directory; "
                         f"{os.fspath(ledger)} is not one")
    with Ledger.open(ledger) as opened:
        cosigned = collect_cosignatures(opened, witnesses, timeout=timeout)
        result = publish(opened, outdir, progress=progress, page_policy=page_policy,
                         endpoint_url=endpoint_url, full=full)
    return cosigned, result
