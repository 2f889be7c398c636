// SHA-256 and Ed25519 for the observer's page: WebCrypto where the browser has it, otherwise
// (or with #crypto=js) SHA-256 and SHA-512 written here and the vendored @noble/ed25519.
// Signatures are accepted exactly when OpenSSL accepts them (docs/spec.md, "Verification"):
// noble's strict branch (zip215: false: canonical encodings, s < L) and then the cofactorless
// equation [s]B - [k]A == R, byte for byte, as OpenSSL checks it.

import * as ed from "./vendor/noble-ed25519.js";

const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Pad a message as SHA-2 does: 0x80, zeros, then the bit length in `lenBytes` bytes. */
function pad(msg, block, lenBytes) {
  const total = Math.ceil((msg.length + 1 + lenBytes) / block) * block;
  const out = new Uint8Array(total);
  out.set(msg);
  out[msg.length] = 0x80;
  const view = new DataView(out.buffer);
  const bits = msg.length * 8;
  view.setUint32(total - 4, bits >>> 0);
  view.setUint32(total - 8, Math.floor(bits / 0x100000000));
  return out;
}

/** SHA-256 (FIPS 180-4) of a Uint8Array. */
export function sha256js(msg) {
  const data = pad(msg, 64, 8);
  const view = new DataView(data.buffer);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  for (let off = 0; off < data.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (k + S1 + ch + K256[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]);
  return out;
}

const K512 = [
  "428a2f98d728ae22", "7137449123ef65cd", "b5c0fbcfec4d3b2f", "e9b5dba58189dbbc",
  "3956c25bf348b538", "59f111f1b605d019", "923f82a4af194f9b", "ab1c5ed5da6d8118",
  "d807aa98a3030242", "12835b0145706fbe", "243185be4ee4b28c", "550c7dc3d5ffb4e2",
  "72be5d74f27b896f", "80deb1fe3b1696b1", "9bdc06a725c71235", "c19bf174cf692694",
  "e49b69c19ef14ad2", "efbe4786384f25e3", "0fc19dc68b8cd5b5", "240ca1cc77ac9c65",
  "2de92c6f592b0275", "4a7484aa6ea6e483", "5cb0a9dcbd41fbd4", "76f988da831153b5",
  "983e5152ee66dfab", "a831c66d2db43210", "b00327c898fb213f", "bf597fc7beef0ee4",
  "c6e00bf33da88fc2", "d5a79147930aa725", "06ca6351e003826f", "142929670a0e6e70",
  "27b70a8546d22ffc", "2e1b21385c26c926", "4d2c6dfc5ac42aed", "53380d139d95b3df",
  "650a73548baf63de", "766a0abb3c77b2a8", "81c2c92e47edaee6", "92722c851482353b",
  "a2bfe8a14cf10364", "a81a664bbc423001", "c24b8b70d0f89791", "c76c51a30654be30",
  "d192e819d6ef5218", "d69906245565a910", "f40e35855771202a", "106aa07032bbd1b8",
  "19a4c116b8d2d0c8", "1e376c085141ab53", "2748774cdf8eeb99", "34b0bcb5e19b48a8",
  "391c0cb3c5c95a63", "4ed8aa4ae3418acb", "5b9cca4f7763e373", "682e6ff3d6b2b8a3",
  "748f82ee5defb2fc", "78a5636f43172f60", "84c87814a1f0ab72", "8cc702081a6439ec",
  "90befffa23631e28", "a4506cebde82bde9", "bef9a3f7b2c67915", "c67178f2e372532b",
  "ca273eceea26619c", "d186b8c721c0c207", "eada7dd6cde0eb1e", "f57d4f7fee6ed178",
  "06f067aa72176fba", "0a637dc5a2c898a6", "113f9804bef90dae", "1b710b35131c471b",
  "28db77f523047d84", "32caab7b40c72493", "3c9ebe0a15c9bebc", "431d67c49c100d4c",
  "4cc5d4becb3e42b6", "597f299cfc657e2a", "5fcb6fab3ad6faec", "6c44198c4a475817",
].map((x) => BigInt("0x" + x));
const MASK64 = (1n << 64n) - 1n;
const rotr = (x, n) => ((x >> n) | (x << (64n - n))) & MASK64;

/** SHA-512 (FIPS 180-4) of a Uint8Array; BigInt words: slow, but only the JS path uses it. */
export function sha512js(msg) {
  const data = pad(msg, 128, 16);
  const view = new DataView(data.buffer);
  const h = [0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
    0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n];
  const w = new Array(80);
  for (let off = 0; off < data.length; off += 128) {
    for (let i = 0; i < 16; i++) w[i] = view.getBigUint64(off + 8 * i);
    for (let i = 16; i < 80; i++) {
      const s0 = rotr(w[i - 15], 1n) ^ rotr(w[i - 15], 8n) ^ (w[i - 15] >> 7n);
      const s1 = rotr(w[i - 2], 19n) ^ rotr(w[i - 2], 61n) ^ (w[i - 2] >> 6n);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & MASK64;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let i = 0; i < 80; i++) {
      const S1 = rotr(e, 14n) ^ rotr(e, 18n) ^ rotr(e, 41n);
      const ch = (e & f) ^ (~e & MASK64 & g);
      const t1 = (k + S1 + ch + K512[i] + w[i]) & MASK64;
      const S0 = rotr(a, 28n) ^ rotr(a, 34n) ^ rotr(a, 39n);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) & MASK64;
      k = g; g = f; f = e; e = (d + t1) & MASK64; d = c; c = b; b = a; a = (t1 + t2) & MASK64;
    }
    const add = [a, b, c, d, e, f, g, k];
    for (let i = 0; i < 8; i++) h[i] = (h[i] + add[i]) & MASK64;
  }
  const out = new Uint8Array(64);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setBigUint64(8 * i, h[i]);
  return out;
}

ed.hashes.sha512 = sha512js;
ed.hashes.sha512Async = async (m) => sha512js(m);

const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function littleEndian(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Ed25519 verification in JavaScript, with OpenSSL's answer: noble's strict check and the
 * cofactorless equation. */
export function verifyJs(publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  let strict;
  try {
    strict = ed.verify(signature, message, publicKey, { zip215: false });
  } catch (e) {
    return false;
  }
  if (!strict) return false;
  const r = signature.subarray(0, 32);
  const s = littleEndian(signature.subarray(32));
  const A = ed.Point.fromBytes(publicKey, false);
  const digest = sha512js(concat(r, publicKey, message));
  const k = littleEndian(digest) % L;
  const sB = s === 0n ? ed.Point.ZERO : ed.Point.BASE.multiply(s, false);
  const kA = k === 0n ? ed.Point.ZERO : A.multiply(k, false);
  return sameBytes(sB.subtract(kA).toBytes(), r);
}

/** True when `publicKey` is the canonical encoding of a point of prime order (the key rule of
 * docs/spec.md, "Identity and keys"): not small-order, no small-order component, canonical. */
export function isPrimeOrderKey(publicKey) {
  if (publicKey.length !== 32) return false;
  let point;
  try {
    point = ed.Point.fromBytes(publicKey, false);
  } catch (e) {
    return false;
  }
  return !point.isSmallOrder() && point.isTorsionFree() && sameBytes(point.toBytes(), publicKey);
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `verify` with its answers remembered (a pure function: a station's records, or a receipt
 * checked again, verify the same checkpoint signature once). */
function remembered(verify) {
  const answers = new Map();
  return async (publicKey, message, signature) => {
    const id = toHexString(publicKey) + toHexString(signature) + toHexString(
      sha256js(message));
    if (!answers.has(id)) {
      if (answers.size >= 4096) answers.clear();
      answers.set(id, await verify(publicKey, message, signature));
    }
    return answers.get(id);
  };
}

const toHexString = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** The page's cryptography: `mode` "webcrypto" (SHA-256 and Ed25519 of the browser) or "js". */
export async function makeCrypto(wanted) {
  const crypto = await chooseCrypto(wanted);
  return { ...crypto, verify: remembered(crypto.verify) };
}

async function chooseCrypto(wanted) {
  const subtle = globalThis.isSecureContext && globalThis.crypto && globalThis.crypto.subtle;
  const js = {
    mode: "js",
    secure: Boolean(globalThis.isSecureContext),
    sha256: async (data) => sha256js(data),
    verify: async (publicKey, message, signature) => verifyJs(publicKey, message, signature),
  };
  if (wanted === "js" || !subtle) return js;
  let ed25519 = true;
  try {
    await subtle.importKey("raw", ed.Point.BASE.toBytes(), { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    ed25519 = false;
  }
  return {
    mode: ed25519 ? "webcrypto" : "webcrypto-sha256",
    secure: true,
    sha256: async (data) => new Uint8Array(await subtle.digest("SHA-256", data)),
    verify: ed25519
      ? async (publicKey, message, signature) => {
        if (publicKey.length !== 32 || signature.length !== 64) return false;
        try {
          const key = await subtle.importKey("raw", publicKey, { name: "Ed25519" }, false,
            ["verify"]);
          return await subtle.verify({ name: "Ed25519" }, key, signature, message);
        } catch (e) {
          return false;
        }
      }
      : js.verify,
  };
}
