"""Just enough Edwards25519 arithmetic (RFC 8032 section 5.1) to build edge-case keys and
signatures: small-order points, non-canonical encodings, mixed-order keys, S >= L.

Slow, variable-time, for test inputs only: never use it to sign anything real.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

P = 2**255 - 19
#: Order of the prime-order subgroup (RFC 8032 5.1).
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


class Point(NamedTuple):
    """A point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, x*y = T/Z."""

    x: int
    y: int
    z: int
    t: int


IDENTITY = Point(0, 1, 1, 0)


def add(a: Point, b: Point) -> Point:
    """Complete twisted-Edwards addition for a = -1 (RFC 8032 5.1.4)."""
    p1 = (a.y - a.x) * (b.y - b.x) % P
    p2 = (a.y + a.x) * (b.y + b.x) % P
    c = a.t * 2 * D * b.t % P
    d = a.z * 2 * b.z % P
    e, f, g, h = p2 - p1, d - c, d + c, p2 + p1
    return Point(e * f % P, g * h % P, f * g % P, e * h % P)


def multiply(k: int, point: Point) -> Point:
    """[k]point by double-and-add."""
    out = IDENTITY
    while k > 0:
        if k & 1:
            out = add(out, point)
        point = add(point, point)
        k >>= 1
    return out


def affine(point: Point) -> tuple[int, int]:
    """(x, y) of a point."""
    inv = pow(point.z, P - 2, P)
    return point.x * inv % P, point.y * inv % P


def equal(a: Point, b: Point) -> bool:
    """Same point (projective coordinates compared by cross-multiplying)."""
    return (a.x * b.z - b.x * a.z) % P == 0 and (a.y * b.z - b.y * a.z) % P == 0


def x_for(y: int, sign: int) -> int | None:
    """The x with the given low bit on the curve at ``y`` (RFC 8032 5.1.3), or None."""
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P != 0:
        x = x * SQRT_M1 % P
    if (v * x * x - u) % P != 0:
        return None
    if x == 0 and sign:
        return None
    return x if x & 1 == sign else P - x


def point_at(y: int, sign: int = 0) -> Point | None:
    """The point with this y and x sign, or None when there is none."""
    x = x_for(y % P, sign)
    return None if x is None else Point(x, y % P, 1, x * y % P)


def encode(point: Point) -> bytes:
    """Canonical 32-byte encoding: y little-endian, the top bit is x's low bit."""
    x, y = affine(point)
    return (y | (x & 1) << 255).to_bytes(32, "little")


def encode_raw(y: int, sign: int) -> bytes:
    """An encoding of any 255-bit y with any sign bit, canonical or not."""
    return (y | sign << 255).to_bytes(32, "little")


def base_point() -> Point:
    """B: y = 4/5, x even (RFC 8032 5.1)."""
    found = point_at(4 * pow(5, P - 2, P) % P, 0)
    if found is None:  # pragma: no cover - a constant of the curve
        raise ArithmeticError("no base point")
    return found


def torsion_generator() -> Point:
    """A point of order 8: [L]Q for the first decodable Q whose [L]Q has order 8."""
    for y in range(2, 1000):
        q = point_at(y)
        if q is None:
            continue
        t = multiply(L, q)
        if not equal(multiply(4, t), IDENTITY):
            return t
    raise ArithmeticError("no point of order 8 found")  # pragma: no cover


def small_order_points() -> list[Point]:
    """The 8 points of order dividing 8: [k]T for k in 0..7."""
    t = torsion_generator()
    return [multiply(k, t) for k in range(8)]


def clamp(seed: bytes) -> tuple[int, bytes]:
    """RFC 8032 5.1.5: the secret scalar and the prefix from a 32-byte seed."""
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def challenge(r: bytes, a: bytes, message: bytes) -> int:
    """k = SHA-512(R || A || M) mod L."""
    return int.from_bytes(hashlib.sha512(r + a + message).digest(), "little") % L


def sign_with_key(scalar: int, prefix: bytes, public: bytes, message: bytes) -> bytes:
    """An RFC 8032 signature with the secret ``scalar`` under any encoding ``public``
    (which need not be [scalar]B: that is how mixed-order keys are made)."""
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % L
    big_r = encode(multiply(r, base_point()))
    s = (r + challenge(big_r, public, message) * scalar) % L
    return big_r + s.to_bytes(32, "little")
