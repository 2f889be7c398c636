// The checks of the observer's page, the same as the library's (docs/spec.md): C2SP signed
// notes and verifier keys, checkpoints and the election-ledger profile, tlog-policy quorums,
// cosignature/v1, RFC 9162 inclusion proofs, tlog-tiles, and `ledger check-proof` on receipts.
// Each failure is a CheckError with the library's message, category and code.

import { concat, isPrimeOrderKey } from "./crypto.js";
import {
  CheckError, MAX_ENTRY_SIZE, MAX_TREE_SIZE, decodeBase64, decodeEntryRecord, decodeUtf8,
  malformed, parseDecimal, pyRepr, sameBytes, toHex, utf8,
} from "./codec.js";

const SIG_ED25519 = 0x01;
const SIG_COSIGNATURE_V1 = 0x04;
const MAX_SIGNATURES = 100;
const MAX_NOTE_SIZE = 1 << 20;
const MAX_TIMESTAMP = (1n << 63n) - 1n;
const MAX_CLOCK_SKEW = 600n;
const MAX_PROOF_HASHES = 64;
export const MAX_RECEIPT_SIZE = MAX_NOTE_SIZE + 96 * 1024;
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
const EM_DASH = "\u2014 ";
const RECEIPT_HEADER = "c2sp.org/tlog-proof@v1";

// What Python's str.isspace() calls a space (the library's key-name rule).
const PY_SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const pySlice = (s, n) => Array.from(s).slice(0, n).join("");
const sigError = (message, category = "signature", code = "bad-signature", where = {}) =>
  new CheckError(message, { category, code, where });

// --- keys ---------------------------------------------------------------------------------

export function isValidKeyName(name) {
  if (!name) return false;
  if (/^[\x00-\x7f]*$/.test(name)) return !/[\x00-\x20+]/.test(name);
  return !name.includes("+") && !PY_SPACE.test(name) && !CONTROL.test(name) &&
    !/[\ud800-\udfff]/.test(name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ""));
}

/** C2SP key id: SHA-256(name || 0x0A || type || public key)[:4]. */
export async function noteKeyHash(crypto, name, type, publicKey) {
  const digest = await crypto.sha256(concat(utf8.encode(name), Uint8Array.of(0x0a, type),
    publicKey));
  return digest.subarray(0, 4);
}

/** A verifier key string `name+hex8+base64(type || key)` (already checked by the publisher
 * when it wrote the page; checked again here). */
export async function parseVerifierKey(crypto, text) {
  const parts = text.split("+");
  if (parts.length < 3) throw new CheckError("verifier key must be name+hex8+base64",
    { category: "input", code: "input" });
  const name = parts[0];
  const hex8 = parts[1];
  const material = decodeBase64(parts.slice(2).join("+"), "verifier key material", "input");
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hex8) || material.length !== 33 ||
      (material[0] !== SIG_ED25519 && material[0] !== SIG_COSIGNATURE_V1)) {
    throw new CheckError(`verifier key ${pyRepr(pySlice(name, 80))} is not a C2SP Ed25519 or ` +
      "cosignature/v1 key", { category: "input", code: "input" });
  }
  const key = { name, type: material[0], publicKey: material.subarray(1),
    keyHash: await noteKeyHash(crypto, name, material[0], material.subarray(1)) };
  if (toHex(key.keyHash) !== hex8) {
    throw new CheckError(`verifier key hash ${hex8} does not match the key`,
      { category: "input", code: "input" });
  }
  if (!isPrimeOrderKey(key.publicKey)) {
    throw new CheckError(`verifier key ${pyRepr(pySlice(name, 80))} is not a point of prime ` +
      "order (a small-order, mixed-order or non-canonical key, for which signatures can be " +
      "forged)", { category: "input", code: "input" });
  }
  return key;
}

const keyLabel = (k) => `${k.name}+${toHex(k.keyHash)}`;
const sameKey = (a, b) => a.name === b.name && sameBytes(a.keyHash, b.keyHash);

// --- signed notes -------------------------------------------------------------------------

function parseSignatureLine(line, category) {
  if (!line.startsWith(EM_DASH)) {
    throw malformed(`signature line does not start with an em dash: ${pyRepr(pySlice(line, 40))}`,
      "malformed", category);
  }
  const rest = line.slice(EM_DASH.length);
  const space = rest.indexOf(" ");
  const name = space < 0 ? rest : rest.slice(0, space);
  const b64 = space < 0 ? "" : rest.slice(space + 1);
  if (!isValidKeyName(name)) {
    throw malformed(`invalid key name in signature line: ${pyRepr(pySlice(name, 80))}`,
      "malformed", category);
  }
  const raw = decodeBase64(b64, `signature of ${name}`, category);
  if (raw.length <= 4) throw malformed(`signature of ${name} is too short`, "malformed", category);
  return { name, keyHash: raw.subarray(0, 4), signature: raw.subarray(4) };
}

/** Split a signed note into text and signature lines, verifying nothing. */
export function parseUnverifiedNote(data, category = "checkpoint") {
  if (data.length > MAX_NOTE_SIZE) {
    throw malformed(`note is larger than ${MAX_NOTE_SIZE} bytes`, "malformed", category);
  }
  const text = decodeUtf8(data);
  if (text === null) throw malformed("note is not valid UTF-8", "malformed", category);
  if (CONTROL.test(text)) throw malformed("note contains a control character", "malformed",
    category);
  if (!text.endsWith("\n")) throw malformed("note does not end with a newline", "malformed",
    category);
  const cut = text.lastIndexOf("\n\n");
  if (cut < 0 || cut + 2 === text.length) {
    throw malformed("note has no signature lines after a blank line", "malformed", category);
  }
  const lines = text.slice(cut + 2, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) {
    throw malformed(`note has more than ${MAX_SIGNATURES} signatures`, "malformed", category);
  }
  return { text: text.slice(0, cut + 1), signatures: lines.map((l) => parseSignatureLine(l,
    category)) };
}

export function cosignatureMessage(text, timestamp) {
  return utf8.encode(`cosignature/v1\ntime ${timestamp}\n${text}`);
}

function bigEndian(bytes) {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

async function verifyOne(crypto, key, text, sig, category) {
  let raw = sig.signature;
  let message;
  let timestamp = 0n;
  if (key.type === SIG_COSIGNATURE_V1) {
    if (raw.length !== 72) {
      throw sigError(`cosignature of ${key.name} is ${raw.length} bytes, expected 72`,
        category ?? "signature");
    }
    timestamp = bigEndian(raw.subarray(0, 8));
    if (timestamp > MAX_TIMESTAMP) {
      throw sigError(`cosignature of ${key.name} has a timestamp over 2^63 - 1`,
        category ?? "signature");
    }
    message = cosignatureMessage(text, timestamp);
    raw = raw.subarray(8);
  } else {
    message = utf8.encode(text);
  }
  let why = null;
  if (raw.length !== 64) why = `signature is ${raw.length} bytes, expected 64`;
  else if (!(await crypto.verify(key.publicKey, message, raw))) {
    why = "Ed25519 signature does not verify";
  }
  if (why !== null) {
    throw sigError(`invalid signature for key ${keyLabel(key)}: ${why}`,
      category ?? "signature", "bad-note-signature");
  }
  return timestamp;
}

/** Open a note with the known `verifiers`: each known key's signature must verify. */
export async function openNote(crypto, data, verifiers, category = "checkpoint") {
  const note = parseUnverifiedNote(data, category);
  const verified = [];
  for (const sig of note.signatures) {
    const key = verifiers.find((v) => sameKey(v, sig));
    if (key === undefined) continue;
    if (verified.includes(key)) {
      throw malformed(`note has two signatures of key ${key.name}`, "malformed", category);
    }
    await verifyOne(crypto, key, note.text, sig, category);
    verified.push(key);
  }
  if (!verified.length) {
    const signers = note.signatures.map((s) => keyLabel(s)).join(", ");
    const expected = verifiers.map(keyLabel).join(", ");
    throw sigError(`note has no signature from a known key: signed by ${signers}; the key ` +
      `given is ${expected || "none"}`, category, "no-known-signature");
  }
  return { ...note, verified };
}

// --- checkpoints ----------------------------------------------------------------------------

export function parseCheckpoint(text, category = "checkpoint") {
  if (!text.endsWith("\n") || CONTROL.test(text)) {
    throw malformed("checkpoint text must end with a newline and hold no control characters",
      "malformed", category);
  }
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw malformed("checkpoint has fewer than three lines", "malformed",
    category);
  if (!lines.every((l) => l)) throw malformed("checkpoint has an empty line", "malformed",
    category);
  const [origin, sizeText, rootText, ...extensions] = lines;
  const size = parseDecimal(sizeText, "tree size", MAX_TREE_SIZE, category);
  const root = decodeBase64(rootText, "root hash", category);
  if (root.length < 1 || root.length > 64) {
    throw malformed(`root hash is ${root.length} bytes`, "malformed", category);
  }
  return { origin, size, root, extensions };
}

const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

export function checkOrigin(origin) {
  const slash = origin.indexOf("/");
  const host = slash < 0 ? origin : origin.slice(0, slash);
  const path = slash < 0 ? "" : origin.slice(slash + 1);
  const ok = /^[\x00-\x7f]*$/.test(origin) && origin.length <= 255 && host.length <= 253 &&
    host.split(".").every((l) => HOST_LABEL.test(l)) && Boolean(path) &&
    path.split("/").every((s) => SEGMENT.test(s));
  if (!ok) {
    throw malformed(`origin ${pyRepr(pySlice(origin, 80))} is not <host>/<election id> ` +
      "(segments of A-Z a-z 0-9 . _ -)", "bad-origin", "origin");
  }
}

const sameCheckpoint = (a, b) => a.origin === b.origin && a.size === b.size &&
  sameBytes(a.root, b.root) && a.extensions.join("\n") === b.extensions.join("\n");

/** An election-ledger checkpoint signed by `publisher` (the profile holds). */
export async function openLedgerCheckpoint(crypto, data, publisher) {
  const note = await openNote(crypto, data, [publisher], "checkpoint");
  const cp = parseCheckpoint(note.text);
  if (cp.origin !== publisher.name) {
    throw malformed(`checkpoint origin ${pyRepr(cp.origin)} is not the publisher key's name ` +
      `${pyRepr(publisher.name)}`, "origin-mismatch", "origin");
  }
  checkOrigin(cp.origin);
  if (cp.extensions.length) {
    throw malformed("an election-ledger checkpoint has no extension lines",
      "checkpoint-extension", "checkpoint");
  }
  if (cp.root.length !== 32) {
    throw malformed(`root hash is ${cp.root.length} bytes, expected 32`, "malformed",
      "checkpoint");
  }
  return { checkpoint: cp, note };
}

// --- policies ----------------------------------------------------------------------------

/** A policy as the publisher wrote it into the page: witnesses (name, vkey), groups, quorum. */
export async function loadPolicy(crypto, policy) {
  const witnesses = [];
  for (const w of policy.witnesses) {
    witnesses.push({ name: w.name, key: await parseVerifierKey(crypto, w.vkey) });
  }
  return { witnesses, groups: policy.groups, quorum: policy.quorum };
}

function isMet(name, met, groups) {
  const group = groups.find((g) => g.name === name);
  if (group === undefined) return met.has(name);
  return group.members.filter((m) => isMet(m, met, groups)).length >= group.threshold;
}

function shortfall(name, met, groups) {
  if (isMet(name, met, groups)) return null;
  const group = groups.find((g) => g.name === name);
  if (group === undefined) return name;
  const failing = group.members.filter((m) => !isMet(m, met, groups));
  if (failing.length === 1 && groups.some((g) => g.name === failing[0])) {
    return shortfall(failing[0], met, groups);
  }
  return group;
}

/** The policy witnesses' cosignatures of `note` verify and meet the quorum (`now`: seconds). */
export async function checkWitnessed(crypto, note, policy, now) {
  const names = [];
  const stamps = [];
  for (const sig of note.signatures) {
    const witness = policy.witnesses.find((w) => sameKey(w.key, sig));
    if (witness === undefined) continue;
    if (names.includes(witness.name)) {
      throw malformed(`checkpoint has two cosignatures of witness ${witness.name}`, "malformed",
        "witness");
    }
    const raw = sig.signature;
    if (raw.length >= 8 && bigEndian(raw.subarray(0, 8)) > MAX_TIMESTAMP) {
      throw malformed(`cosignature of ${witness.name} has a timestamp over 2^63 - 1`,
        "cosignature-timestamp", "witness");
    }
    let timestamp;
    try {
      timestamp = await verifyOne(crypto, witness.key, note.text, sig, null);
    } catch (e) {
      if (!(e instanceof CheckError)) throw e;
      throw sigError(`cosignature of witness ${witness.name} does not verify: ${e.message}`,
        "witness", "bad-cosignature");
    }
    if (timestamp > BigInt(now) + MAX_CLOCK_SKEW) {
      throw new CheckError(`cosignature of witness ${witness.name} is dated ${timestamp}, more ` +
        `than ${MAX_CLOCK_SKEW} s ahead of this clock (${now})`,
      { category: "witness", code: "cosignature-in-future" });
    }
    names.push(witness.name);
    stamps.push(timestamp);
  }
  const short = policy.quorum === null ? null : shortfall(policy.quorum, new Set(names),
    policy.groups);
  if (short !== null) {
    const who = names.length ? names.join(", ") : "no listed witness";
    const need = typeof short === "string" ? `the quorum needs witness ${short}`
      : `group ${short.name} needs ${short.threshold} of ${short.members.join(", ")}`;
    throw new CheckError(`checkpoint is not cosigned to the policy's quorum: ${need}; ` +
      `cosigned by ${who}`, { category: "witness", code: "quorum" });
  }
  return { cosignedBy: names, timestamps: stamps };
}

// --- Merkle trees (RFC 9162) ----------------------------------------------------------------

export const leafHash = (crypto, entry) => crypto.sha256(concat(Uint8Array.of(0), entry));
export const nodeHash = (crypto, l, r) => crypto.sha256(concat(Uint8Array.of(1), l, r));

const bitLength = (n) => (n === 0n ? 0 : n.toString(2).length);
const popCount = (n) => [...n.toString(2)].filter((c) => c === "1").length;

export function inclusionProofLength(index, size) {
  const inner = bitLength(index ^ (size - 1n));
  return inner + popCount(index >> BigInt(inner));
}

const proofError = (message) => new CheckError(message, { category: "consistency",
  code: "bad-proof" });

/** RFC 9162 2.1.3.2: the root `proof` gives for `leaf` at `index` (BigInt) of `size`. */
export async function rootFromInclusionProof(crypto, leaf, index, size, proof) {
  if (index >= size) throw proofError(`leaf index ${index} is outside a tree of size ${size}`);
  const want = inclusionProofLength(index, size);
  if (proof.length !== want) throw proofError(`proof must have ${want} hashes, got ${proof.length}`);
  proof.forEach((p, i) => {
    if (p.length !== 32) throw proofError(`proof hash ${i} must be 32 bytes, got ${p.length}`);
  });
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if ((fn & 1n) || fn === sn) {
      r = await nodeHash(crypto, p, r);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(crypto, r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return r;
}

export async function verifyInclusion(crypto, leaf, index, size, proof, root) {
  const got = await rootFromInclusionProof(crypto, leaf, index, size, proof);
  if (!sameBytes(got, root)) {
    throw new CheckError(`inclusion proof for leaf ${index} of ${size} gives root ${toHex(got)}, ` +
      `expected ${toHex(root)}`, { category: "checkpoint", code: "root-mismatch" });
  }
}

// --- tiles (C2SP tlog-tiles) ------------------------------------------------------------------

export function indexPath(index, width) {
  const groups = [];
  let n = BigInt(index);
  do {
    groups.push(Number(n % 1000n));
    n /= 1000n;
  } while (n > 0n);
  const parts = groups.slice(1).reverse().map((g) => "x" + String(g).padStart(3, "0"));
  parts.push(String(groups[0]).padStart(3, "0"));
  return parts.join("/") + (width < 256 ? `.p/${width}` : "");
}

export const tilePath = (level, index, width) => `tile/${level}/${indexPath(index, width)}`;
export const bundlePath = (index, width) => `tile/entries/${indexPath(index, width)}`;

export function tileWidth(level, index, size) {
  const nodes = size >> BigInt(8 * level);
  const left = nodes - BigInt(index) * 256n;
  return Number(left < 256n ? left : 256n);
}

export function parseEntryBundle(data, width, path) {
  const entries = [];
  let pos = 0;
  const bad = (why) => new CheckError(`entry bundle ${why}`, { category: "tiles",
    code: "bad-bundle", where: { file: path } });
  while (pos < data.length) {
    if (entries.length === width) throw bad(`has bytes after its ${width} entries (at byte ${pos})`);
    if (pos + 2 > data.length) throw bad(`is truncated inside the length of entry ${entries.length}`);
    const n = (data[pos] << 8) | data[pos + 1];
    if (pos + 2 + n > data.length) {
      throw bad(`is truncated inside entry ${entries.length} (${data.length - pos - 2} of ${n} ` +
        "bytes present)");
    }
    entries.push(data.subarray(pos + 2, pos + 2 + n));
    pos += 2 + n;
  }
  if (entries.length !== width) throw bad(`holds ${entries.length} entries, expected ${width}`);
  return entries;
}

/** Reads a published tree of `size` leaves: hash tiles, entry bundles, proofs from them. */
export class TileReader {
  constructor(crypto, fetchBytes, size) {
    this.crypto = crypto;
    this.fetchBytes = fetchBytes;
    this.size = size;
    this.tiles = new Map();
    this.bundles = new Map();
  }

  async tile(level, index) {
    const width = tileWidth(level, index, this.size);
    const path = tilePath(level, index, width);
    if (!this.tiles.has(path)) {
      this.tiles.set(path, (async () => {
        const data = await this.fetchBytes(path);
        if (data.length !== width * 32) {
          throw new CheckError(`hash tile is ${data.length} bytes, expected ${width * 32} ` +
            `(${width} hashes)`, { category: "tiles", code: "tile-size", where: { file: path } });
        }
        return { path, hashes: Array.from({ length: width },
          (_, i) => data.subarray(32 * i, 32 * i + 32)) };
      })());
    }
    return this.tiles.get(path);
  }

  /** The entries of bundle `index` (as wide as the tree makes it); kept, unless `keep` is
   * false (a scan of every bundle). */
  async bundle(index, keep = true) {
    const width = tileWidth(0, index, this.size);
    const path = bundlePath(index, width);
    if (this.bundles.has(path)) return this.bundles.get(path);
    const read = (async () => ({ path,
      entries: parseEntryBundle(await this.fetchBytes(path), width, path) }))();
    if (keep) this.bundles.set(path, read);
    return read;
  }

  async entry(i) {
    const b = await this.bundle(Number(i / 256n));
    return { path: b.path, bytes: b.entries[Number(i % 256n)] };
  }

  /** Hash of the perfect subtree of 2^height leaves number `k` (BigInt), from one tile. */
  async perfect(height, k, paths) {
    const level = Math.floor(height / 8);
    const r = BigInt(height % 8);
    const first = k << r;
    const tile = await this.tile(level, Number(first / 256n));
    paths.add(tile.path);
    let row = tile.hashes.slice(Number(first % 256n), Number(first % 256n) + (1 << Number(r)));
    if (row.length !== 1 << Number(r)) {
      throw new CheckError(`hash tile ${tile.path} lacks the nodes of a proof`,
        { category: "tiles", code: "tile-size", where: { file: tile.path } });
    }
    while (row.length > 1) {
      const next = [];
      for (let i = 0; i < row.length; i += 2) next.push(await nodeHash(this.crypto, row[i], row[i + 1]));
      row = next;
    }
    return row[0];
  }

  /** MTH of leaves [start, end): perfect subtrees read from tiles, split as RFC 9162 says. */
  async range(start, end, paths) {
    const n = end - start;
    if ((n & (n - 1n)) === 0n && start % n === 0n) {
      return this.perfect(bitLength(n) - 1, start / n, paths);
    }
    let k = 1n;
    while (k * 2n < n) k *= 2n;
    return nodeHash(this.crypto, await this.range(start, start + k, paths),
      await this.range(start + k, end, paths));
  }

  /** The inclusion proof of leaf `m` in the tree of `this.size` (RFC 9162 PATH), from tiles. */
  async inclusionProof(m, paths = new Set()) {
    const path = async (m, start, end) => {
      const n = end - start;
      if (n <= 1n) return [];
      let k = 1n;
      while (k * 2n < n) k *= 2n;
      if (m < start + k) {
        return [...(await path(m, start, start + k)), await this.range(start + k, end, paths)];
      }
      return [...(await path(m, start + k, end)), await this.range(start, start + k, paths)];
    };
    return path(m, 0n, this.size);
  }
}

// --- receipts (C2SP tlog-proof; `ledger check-proof`) ------------------------------------------

const badReceipt = (message, code = "bad-receipt") => malformed(`receipt: ${message}`, code);

export function parseReceipt(data) {
  const head = utf8.encode(RECEIPT_HEADER + "\n");
  if (data.length < head.length || !sameBytes(data.subarray(0, head.length), head)) {
    throw new CheckError(`not a C2SP tlog-proof: the first line must be ${RECEIPT_HEADER}`,
      { category: "input", code: "input" });
  }
  if (data.length > MAX_RECEIPT_SIZE) {
    throw badReceipt(`larger than ${MAX_RECEIPT_SIZE} bytes`, "receipt-too-large");
  }
  let cut = -1;
  for (let i = 0; i + 1 < data.length; i++) {
    if (data[i] === 10 && data[i + 1] === 10) {
      cut = i;
      break;
    }
  }
  if (cut < 0) throw badReceipt("no blank line before the checkpoint");
  const top = data.subarray(0, cut);
  if (top.some((b) => b > 0x7f)) throw badReceipt("proof lines are not ASCII");
  const lines = new TextDecoder("ascii").decode(top).split("\n").slice(1);
  let extra = null;
  if (lines.length && lines[0].startsWith("extra ")) {
    extra = decodeBase64(lines.shift().slice(6), "receipt extra line");
    if (extra.length < 1 || extra.length > MAX_ENTRY_SIZE) {
      throw badReceipt(`extra data must be 1 to ${MAX_ENTRY_SIZE} bytes, got ${extra.length}`);
    }
  }
  if (!lines.length || !lines[0].startsWith("index ")) {
    throw badReceipt("the line after the header (and extra) must be 'index <n>'");
  }
  const index = parseDecimal(lines.shift().slice(6), "receipt index", MAX_TREE_SIZE, "encoding");
  if (lines.length > MAX_PROOF_HASHES) throw badReceipt(`more than ${MAX_PROOF_HASHES} proof hashes`);
  const proof = lines.map((l) => decodeBase64(l, "receipt proof hash"));
  if (proof.some((h) => h.length !== 32)) throw badReceipt("a proof hash is not 32 bytes");
  const note = data.subarray(cut + 2);
  parseCheckpoint(parseUnverifiedNote(note, "checkpoint").text);
  return { index, proof, note, extra };
}

const entryMessage = (origin, body) => concat(utf8.encode(`election-ledger/v1/entry\n${origin}\n`),
  body);

/** An entry's signature by `publicKey` for the log `origin` (key id first, as the library). */
export async function verifyEntrySignature(crypto, entry, origin, publicKey, where = {}) {
  if (!sameBytes(await crypto.sha256(publicKey), entry.key)) {
    throw sigError("entry key id is not the id of the key given", "signature", "key-mismatch",
      where);
  }
  if (!(await crypto.verify(publicKey, entryMessage(origin, entry.body), entry.sig))) {
    throw sigError("Ed25519 signature does not verify", "signature", "bad-signature", where);
  }
}

const rethrowAt = (where) => (e) => {
  if (e instanceof CheckError) throw e.at(where);
  throw e;
};

async function openReceipt(crypto, receipt, publisher) {
  const where = { index: receipt.index };
  const signed = await openLedgerCheckpoint(crypto, receipt.note, publisher);
  const cp = signed.checkpoint;
  if (receipt.extra === null) {
    throw malformed("receipt has no extra line: the entry bytes are needed", "malformed",
      "encoding", where);
  }
  try {
    await verifyInclusion(crypto, await leafHash(crypto, receipt.extra), receipt.index, cp.size,
      receipt.proof, cp.root);
    return { signed, ...decodeEntryRecord(receipt.extra) };
  } catch (e) {
    return rethrowAt(where)(e);
  }
}

const keyError = (message, code, index, station) => sigError(message, "keys", code,
  { index, station });

/** `ledger check-proof`: what a receipt (and a station receipt) shows offline. */
export async function checkReceipt(crypto, receipt, publisher, stationReceipt, policy, now,
  isPrimeOrderKey) {
  const opened = await openReceipt(crypto, receipt, publisher);
  let witnessed = null;
  if (policy) {
    witnessed = await checkWitnessed(crypto, parseUnverifiedNote(receipt.note, "checkpoint"),
      policy, now).catch(rethrowAt({ index: receipt.index }));
  }
  const { record, entry } = opened;
  const index = receipt.index;
  const origin = opened.signed.checkpoint.origin;
  let station = record.kind === "turnout" || record.kind === "report" ? record.station : null;
  if (record.kind === "station") station = record.id;
  let stationIndex = null;
  let signedBy;
  let notShown;
  const publisherId = await crypto.sha256(publisher.publicKey);
  if (sameBytes(entry.key, publisherId)) {
    await verifyEntrySignature(crypto, entry, origin, publisher.publicKey,
      { index, kind: record.kind });
    if (stationReceipt) {
      const second = await openReceipt(crypto, stationReceipt, publisher)
        .catch(rethrowAt({ index: stationReceipt.index }));
      if (!sameCheckpoint(second.signed.checkpoint, opened.signed.checkpoint)) {
        throw keyError("the second receipt is under another checkpoint than the record's: every " +
          "receipt given must be of the same log and checkpoint", "station-receipt-checkpoint",
        stationReceipt.index, station);
      }
    }
    signedBy = "publisher";
    notShown = record.kind === "report" || record.kind === "turnout"
      ? [{ key: "not-registered", station, index }]
      : record.kind === "station" ? [{ key: "not-replaced", station, index }] : [];
  } else if (record.kind === "turnout" || record.kind === "report") {
    if (!stationReceipt) {
      throw keyError(`entry ${index} is signed by a station key: the receipt of the station ` +
        `record of ${station} is needed to check it`, "station-receipt-required", index, station);
    }
    const at = stationReceipt.index;
    const reg = await openReceipt(crypto, stationReceipt, publisher);
    if (!sameCheckpoint(reg.signed.checkpoint, opened.signed.checkpoint)) {
      throw keyError("the station receipt is under another checkpoint than the record's",
        "station-receipt-checkpoint", at, station);
    }
    if (at >= index) {
      throw keyError(`the station record (entry ${at}) must come before the record (entry ` +
        `${index})`, "station-receipt-not-earlier", at, station);
    }
    if (reg.record.kind !== "station") {
      throw keyError(`the station receipt holds a ${reg.record.kind} record`,
        "station-receipt-not-station", at, station);
    }
    if (reg.record.id !== station) {
      throw keyError(`the station receipt registers ${pyRepr(reg.record.id)}, the record names ` +
        `${pyRepr(station)}`, "station-receipt-other-station", at, station);
    }
    await verifyEntrySignature(crypto, reg.entry, origin, publisher.publicKey,
      { index: at, kind: "station" });
    if (!sameBytes(await crypto.sha256(reg.record.pubkey), entry.key)) {
      throw keyError(`entry ${index} is not signed by the key station ${station} registered at ` +
        `entry ${at}`, "station-key-mismatch", index, station);
    }
    if (!isPrimeOrderKey(reg.record.pubkey)) {
      throw keyError(`the key station ${station} registered at entry ${at} is not a point of ` +
        "prime order (a small-order, mixed-order or non-canonical key, for which signatures " +
        "can be forged)", "key-weak", at, station);
    }
    await verifyEntrySignature(crypto, entry, origin, reg.record.pubkey,
      { index, kind: record.kind });
    stationIndex = at;
    signedBy = "station";
    notShown = [{ key: "not-revoked", station, index, at }];
  } else {
    throw sigError(`a ${record.kind} record is signed by the publisher, and this entry's key is ` +
      "not the publisher's", "signature", "bad-signature", { index, kind: record.kind, station });
  }
  const others = opened.signed.note.signatures.filter((s) => !sameKey(s, publisher))
    .map((s) => s.name);
  return { index, checkpoint: opened.signed.checkpoint, record, signedBy, station, stationIndex,
    cosignedBy: witnessed ? witnessed.cosignedBy : [], unchecked: witnessed ? [] : others,
    notShown };
}
