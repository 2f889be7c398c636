"""The machine's hard limits, measured in the run they divide: bare loops, nothing of ours.

- Ed25519 verify/s of ``cryptography`` (OpenSSL) and of PyNaCl (libsodium) when installed, over
  messages the size of real entries, with key objects made beforehand;
- the same bare verify loop run in every core at once (one process per core, started together,
  the same windows, the total summed): what the cores give when they all work, which on a shared
  machine can be less than cores x one core;
- SHA-256 leaf hashes/s (0x00 || a real entry) and node hashes/s (0x01 || 64 bytes) in hashlib;
- cores this process may run on.
Each rate is the best of ``repeats`` timed windows: a limit is what the machine can do at best.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Sequence
from functools import cache
from multiprocessing.synchronize import Barrier
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from benchmarks.generator import ORIGIN, Keys, Plan, log_entries
from ledger.core.hashing import entry_signed_message
from ledger.formats.records import Entry, encode_entry
from ledger.formats.signing import Signer, verify_signature

_SAMPLES = 512


def cores() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def best_rate(step: Callable[[], int], *, seconds: float, repeats: int = 3) -> float:
    """Best items/s over ``repeats`` windows of about ``seconds`` each; ``step`` returns a count."""
    return max(window_rate(step, seconds) for _ in range(repeats))


def window_rate(step: Callable[[], int], seconds: float) -> float:
    """Items/s of ``step`` (which returns a count) called over one window of about ``seconds``."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        done += step()
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


@cache
def sample_entries(count: int = _SAMPLES) -> list[Entry]:
    """Real-sized signed entries (mostly turnout) from the benchmark generator."""
    plan = Plan.for_records(max(count * 4, 200))
    keys = Keys.for_plan(plan, signing=True)
    entries = [e for _, e in log_entries(plan, keys, signed=True)]
    return entries[-count:]


def _signature_triples(entries: Sequence[Entry]) -> list[tuple[bytes, bytes, bytes]]:
    """(public key, message, signature) over entry messages, each with a key of its own."""
    out = []
    for i, entry in enumerate(entries):
        signer = Signer(hashlib.sha256(b"limits %d" % i).digest())
        message = entry_signed_message(ORIGIN, entry.body)
        out.append((signer.public_key, message, signer.sign(message)))
    return out


def ed25519_cryptography(triples: Sequence[tuple[bytes, bytes, bytes]], seconds: float) -> float:
    """Bare ``Ed25519PublicKey.verify`` loop with the key objects loaded beforehand."""
    loaded = [(Ed25519PublicKey.from_public_bytes(k), m, s) for k, m, s in triples]

    def step() -> int:
        for key, message, sig in loaded:
            key.verify(sig, message)
        return len(loaded)

    return best_rate(step, seconds=seconds)


def ed25519_pynacl(triples: Sequence[tuple[bytes, bytes, bytes]], seconds: float) -> float | None:
    """Bare libsodium ``crypto_sign_open`` loop (PyNaCl's fastest verify), or None if absent."""
    try:
        from nacl.bindings import crypto_sign_open
    except ImportError:
        return None
    signed = [(s + m, k) for k, m, s in triples]

    def step() -> int:
        for message, key in signed:
            crypto_sign_open(message, key)
        return len(signed)

    return best_rate(step, seconds=seconds)


def ed25519_ledger_signing(triples: Sequence[tuple[bytes, bytes, bytes]], seconds: float) -> float:
    """``ledger.formats.signing.verify_signature`` (loads the key each call): what the library
    pays."""

    def step() -> int:
        for key, message, sig in triples:
            verify_signature(key, message, sig)
        return len(triples)

    return best_rate(step, seconds=seconds)


def sha256_leaves(entries: Sequence[bytes], seconds: float) -> float:
    """Bare hashlib loop: SHA-256(0x00 || entry) of real entries."""
    sha256 = hashlib.sha256

    def step() -> int:
        for data in entries:
            sha256(b"\x00" + data).digest()
        return len(entries)

    return best_rate(step, seconds=seconds)


def sha256_nodes(seconds: float) -> float:
    """Bare hashlib loop: SHA-256(0x01 || left || right), the hash every proof step costs."""
    pairs = [(hashlib.sha256(b"l%d" % i).digest(), hashlib.sha256(b"r%d" % i).digest())
             for i in range(_SAMPLES)]
    sha256 = hashlib.sha256

    def step() -> int:
        for left, right in pairs:
            sha256(b"\x01" + left + right).digest()
        return len(pairs)

    return best_rate(step, seconds=seconds)


Triple = tuple[bytes, bytes, bytes]


def signature_triples() -> list[Triple]:
    """(public key, message, signature) of the sample entries: the payload of the verify loops."""
    return _signature_triples(sample_entries())


def sign_pairs() -> list[tuple[bytes, bytes]]:
    """(32-byte seed, message) of the sample entries: the payload of the signing loop."""
    return [(hashlib.sha256(b"sign %d" % i).digest(), entry_signed_message(ORIGIN, e.body))
            for i, e in enumerate(sample_entries())]


def verify_step(library: str, triples: Sequence[Triple]) -> Callable[[], int]:
    """One pass of the bare verify loop of ``library`` (pynacl, cryptography) over ``triples``;
    it returns the verifies done."""
    if library == "pynacl":
        from nacl.bindings import crypto_sign_open
        signed = [(s + m, k) for k, m, s in triples]

        def nacl_step() -> int:
            for message, key in signed:
                crypto_sign_open(message, key)
            return len(signed)

        return nacl_step
    loaded = [(Ed25519PublicKey.from_public_bytes(k), m, s) for k, m, s in triples]

    def crypto_step() -> int:
        for key, message, sig in loaded:
            key.verify(sig, message)
        return len(loaded)

    return crypto_step


def sign_step(pairs: Sequence[tuple[bytes, bytes]]) -> Callable[[], int]:
    """One pass of the bare ``Ed25519PrivateKey.sign`` loop (what ``Signer.sign`` calls) over
    ``pairs``, the key objects made beforehand."""
    loaded = [(Ed25519PrivateKey.from_private_bytes(seed), m) for seed, m in pairs]

    def step() -> int:
        for key, message in loaded:
            key.sign(message)
        return len(loaded)

    return step


def _step(kind: str, payload: Any) -> Callable[[], int]:
    """The loop of ``kind``: ``verify-pynacl``, ``verify-cryptography`` or ``sign``."""
    if kind == "sign":
        return sign_step(payload)
    return verify_step(kind.removeprefix("verify-"), payload)


def _loops_in_process(loops: Sequence[tuple[str, Any]], seconds: float, repeats: int,
                      barrier: Barrier, out: Any) -> None:
    """A child of :func:`concurrent_rates`: for each loop, ``repeats`` windows, each started
    with the other processes at the barrier; sends the rate of every window of every loop."""
    rates: dict[str, list[float]] = {}
    for kind, payload in loops:
        step = _step(kind, payload)
        step()  # warm
        for _ in range(repeats):
            barrier.wait(timeout=120)
            rates.setdefault(kind, []).append(window_rate(step, seconds))
    out.send(rates)
    out.close()


def concurrent_rates(loops: Sequence[tuple[str, Any]], *, processes: int | None = None,
                     seconds: float, repeats: int = 3) -> dict[str, dict[str, Any]]:
    """Bare loops (kind, payload: see :func:`_step`) in ``processes`` processes at once (default
    one per core): each window starts in all of them together at a barrier and each counts its
    own; a loop's limit is its best window's sum, the per-process rates of that window beside."""
    n = processes or cores()
    context = multiprocessing.get_context("spawn")  # no fork of a parent with threads
    barrier = context.Barrier(n)
    pipes = [context.Pipe(duplex=False) for _ in range(n)]
    children = [context.Process(target=_loops_in_process, daemon=True,
                                args=(loops, seconds, repeats, barrier, send))
                for _, send in pipes]
    for child in children:
        child.start()
    wait = 120 + 3 * seconds * repeats * len(loops)
    try:
        per_process: list[dict[str, list[float]]] = []
        for receive, _ in pipes:
            if not receive.poll(wait):
                raise RuntimeError(f"a bare loop process sent nothing in {wait:.0f} s")
            per_process.append(receive.recv())
    finally:
        for child in children:
            child.join(timeout=60)
            if child.is_alive():
                child.kill()
    out = {}
    for kind, _ in loops:
        windows = [sum(w) for w in zip(*(p[kind] for p in per_process), strict=True)]
        best = max(range(repeats), key=lambda i: windows[i])
        out[kind] = {"total": windows[best], "processes": n,
                     "per_process": [round(p[kind][best], 1) for p in per_process]}
    return out


def measure_limits(seconds: float = 1.0) -> dict[str, Any]:
    """Every limit of the run (rates per second, per core unless named otherwise)."""
    entries = sample_entries()
    triples = _signature_triples(entries)
    crypto = ed25519_cryptography(triples, seconds)
    nacl = ed25519_pynacl(triples, seconds)
    best_name, best = ("pynacl", nacl) if nacl is not None and nacl > crypto else (
        "cryptography", crypto)
    n_cores = cores()
    encoded = [encode_entry(e) for e in entries]
    library = "pynacl" if nacl is not None else "cryptography"
    kind = f"verify-{library}"
    together = concurrent_rates([(kind, triples)], processes=n_cores, seconds=seconds)[kind]
    single = nacl if nacl is not None else crypto
    return {
        "cores": n_cores,
        "ed25519_verify_cryptography": round(crypto, 1),
        "ed25519_verify_pynacl": None if nacl is None else round(nacl, 1),
        "ed25519_verify_ledger_signing": round(ed25519_ledger_signing(triples, seconds), 1),
        "ed25519_verify_best": round(best, 1),
        "ed25519_verify_best_library": best_name,
        "ed25519_verify_all_cores": round(best * n_cores, 1),
        "ed25519_verify_concurrent": round(together["total"], 1),
        "ed25519_verify_concurrent_library": library,
        "ed25519_verify_concurrent_per_process": together["per_process"],
        "ed25519_scaling": round(together["total"] / (n_cores * single), 3),
        "sha256_leaf": round(sha256_leaves(encoded, seconds), 1),
        "sha256_node": round(sha256_nodes(seconds), 1),
        "entry_bytes_mean": round(sum(map(len, encoded)) / len(encoded), 1),
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> dict[str, Any]:
    """What the run ran on: CPU, cores, memory, OS, Python and the libraries that matter."""
    packages = ("cryptography", "msgpack", "lmdb", "pynacl", "pymerkle", "matplotlib")
    return {
        "cpu": _cpu_model(),
        "cores_usable": cores(),
        "cores_online": os.cpu_count(),
        "memory_gib": _memory_total_gib(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in packages},
    }
