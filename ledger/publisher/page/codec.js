// Strict decoding for the observer's page, as strict as the Python library (docs/spec.md,
// "Record kinds" and "Entries"): canonical base64, decimals, canonical MessagePack (integers as
// BigInt, maps as Map), the entry envelope and the seven record kinds with their exact fields.
// Errors are CheckError with the category and code the library gives the same fault.

export class CheckError extends Error {
  constructor(message, { category = "encoding", code = "malformed", where = {} } = {}) {
    super(message);
    this.category = category;
    this.code = code;
    this.where = { ...where };
  }

  /** The same error with more location fields (existing ones win), as the library's `at`. */
  at(where) {
    const e = new CheckError(this.message, { category: this.category, code: this.code,
      where: { ...where, ...Object.fromEntries(Object.entries(this.where)
        .filter(([, v]) => v !== undefined && v !== null)) } });
    return e;
  }

  /** The location in words, as the library says it: file, entry, block, station. */
  describe() {
    const w = this.where;
    const parts = [];
    if (w.file != null) parts.push(w.file + (w.line != null ? `:${w.line}` : ""));
    else if (w.line != null) parts.push(`line ${w.line}`);
    if (w.index != null) parts.push(`entry ${w.index}`);
    if (w.block != null) parts.push(`block ${w.block}`);
    if (w.station != null) parts.push(`station ${w.station}`);
    return parts.join(", ");
  }

  text() {
    const where = this.describe();
    return where ? `${where}: ${this.message}` : this.message;
  }
}

export const malformed = (message, code = "malformed", category = "encoding", where = {}) =>
  new CheckError(message, { category, code, where });

// --- text scalars -------------------------------------------------------------------------

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
export function encodeBase64(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[n >> 18] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : "=";
    out += i + 2 < bytes.length ? B64[n & 63] : "=";
  }
  return out;
}

/** The bytes of base64 `text` as Python's strict decoder reads them (binascii.a2b_base64 with
 * strict_mode, what base64.b64decode(text, validate=True) calls), or null where it refuses. */
function strictBase64(text) {
  const out = [];
  let quad = 0;
  let pads = 0;
  let padding = false;
  let left = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "=") {
      padding = true;
      if (i === 0) return null; // leading padding
      if (quad >= 2 && quad + ++pads >= 4) {
        return i + 1 < text.length ? null : Uint8Array.from(out); // data after the padding
      }
      continue;
    }
    const v = B64.indexOf(ch);
    if (v < 0 || padding) return null; // not base64, or discontinuous padding
    if (quad === 0) left = v;
    else if (quad === 1) out.push(((left << 2) | (v >> 4)) & 255), left = v & 0x0f;
    else if (quad === 2) out.push(((left << 4) | (v >> 2)) & 255), left = v & 0x03;
    else out.push(((left << 6) | v) & 255);
    quad = (quad + 1) % 4;
  }
  return quad === 0 ? Uint8Array.from(out) : null; // a partial group: incorrect padding
}

/** Standard padded base64, canonical only (re-encoding must give the text back), "not valid"
 * and "not canonical" exactly where the library says which. */
export function decodeBase64(text, what, category = "encoding") {
  const out = strictBase64(text);
  if (out === null) throw malformed(`${what} is not valid base64`, "malformed", category);
  if (encodeBase64(out) !== text) {
    throw malformed(`${what} is not canonical base64`, "malformed", category);
  }
  return out;
}

const DECIMAL = /^(?:0|[1-9][0-9]{0,19})$/;
export const MAX_TREE_SIZE = (1n << 64n) - 1n;

/** ASCII decimal without leading zeros, at most `limit` (a BigInt). */
export function parseDecimal(text, what, limit, category = "encoding") {
  if (!DECIMAL.test(text) || BigInt(text) > limit) {
    throw malformed(`${what} must be a decimal from 0 to ${limit} without leading zeros, got ` +
      `${pyRepr(text.slice(0, 40))}`, "malformed", category);
  }
  return BigInt(text);
}

/** Python's repr of a str, for messages that quote input as the library does. */
export function pyRepr(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && /[\p{C}\p{Z}]/u.test(ch)) { // not printable, as Python says it
      out += c < 0x100 ? "\\x" + c.toString(16).padStart(2, "0")
        : c < 0x10000 ? "\\u" + c.toString(16).padStart(4, "0")
          : "\\U" + c.toString(16).padStart(8, "0");
    } else out += ch;
  }
  return quote + out + quote;
}

export const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Why `bytes` are not UTF-8, in the words of Python's decoder, or null when they are. */
export function utf8Problem(bytes) {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    let n;
    let lo = 0x80;
    let hi = 0xbf;
    if (b < 0x80) n = 0;
    else if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return "invalid start byte";
    for (let j = 1; j <= n; j++) {
      if (i + j >= bytes.length) return "unexpected end of data";
      const c = bytes[i + j];
      if (c < (j === 1 ? lo : 0x80) || c > (j === 1 ? hi : 0xbf)) {
        return "invalid continuation byte";
      }
    }
    i += n + 1;
  }
  return null;
}

/** UTF-8 text of `bytes`, or null when they are not valid UTF-8. */
export function decodeUtf8(bytes) {
  try {
    return strictUtf8.decode(bytes);
  } catch (e) {
    return null;
  }
}

export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// --- canonical MessagePack ---------------------------------------------------------------

export const MAX_ENTRY_SIZE = 65535;
const MAX_ITEMS = 65535;
const MAX_DEPTH = 8;
const UINT_MIN = { 0xcc: 0x80n, 0xcd: 0x100n, 0xce: 0x10000n, 0xcf: 0x100000000n };
const INT_MAX = { 0xd0: -0x21n, 0xd1: -0x81n, 0xd2: -0x8001n, 0xd3: -0x80000001n };
const WIDTH = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 };
const FORBIDDEN = { 0xc0: "nil", 0xc1: "the never-used byte 0xc1", 0xca: "a float32",
  0xcb: "a float64" };
const SIZED = {
  0xc4: ["bin", 1, 0], 0xc5: ["bin", 2, 0x100], 0xc6: ["bin", 4, 0x10000],
  0xd9: ["str", 1, 32], 0xda: ["str", 2, 0x100], 0xdb: ["str", 4, 0x10000],
  0xdc: ["array", 2, 16], 0xdd: ["array", 4, 0x10000],
  0xde: ["map", 2, 16], 0xdf: ["map", 4, 0x10000],
};

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

class Scan {
  constructor(data) {
    this.data = data;
    this.pos = 0;
  }

  error(at, path, message, code) {
    const where = path ? `in ${pyRepr(path)}` : "at the top level";
    return malformed(`byte ${at} (${where}): ${message}`, code);
  }

  take(n, path) {
    if (this.pos + n > this.data.length) {
      const left = this.data.length - this.pos;
      throw this.error(this.pos, path, `truncated: ${n} bytes needed, ${left} left`, "truncated");
    }
    const chunk = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return chunk;
  }

  uint(bytes) {
    let n = 0n;
    for (const b of bytes) n = (n << 8n) | BigInt(b);
    return n;
  }

  value(path, depth) {
    const at = this.pos;
    const b = this.take(1, path)[0];
    if (b <= 0x7f) return BigInt(b);
    if (b >= 0xe0) return BigInt(b - 256);
    if (b === 0xc2) return false;
    if (b === 0xc3) return true;
    if (b in FORBIDDEN || (b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) {
      const what = FORBIDDEN[b] ?? "an ext type";
      throw this.error(at, path, `${what} (0x${b.toString(16).padStart(2, "0")}) is not allowed`,
        "forbidden-type");
    }
    if (b in WIDTH) return this.integer(b, at, path);
    let kind;
    let n;
    if (b >= 0x80 && b <= 0x9f) {
      kind = b < 0x90 ? "map" : "array";
      n = b & 0x0f;
    } else if (b >= 0xa0 && b <= 0xbf) {
      kind = "str";
      n = b & 0x1f;
    } else {
      const [k, size, smallest] = SIZED[b];
      kind = k;
      n = Number(this.uint(this.take(size, path)));
      if (n < smallest) {
        throw this.error(at, path, `${kind} of length ${n} with a ${size}-byte length header: ` +
          "a shorter header holds it", "not-shortest");
      }
    }
    if (kind === "bin") return this.take(n, path).slice();
    if (kind === "str") {
      const chunk = this.take(n, path);
      const text = decodeUtf8(chunk);
      if (text === null) {
        throw this.error(at, path, `str is not UTF-8: ${utf8Problem(chunk)}`, "invalid-utf8");
      }
      return text;
    }
    if (n > MAX_ITEMS) {
      throw this.error(at, path, `${kind} of ${n} items, over the limit of ${MAX_ITEMS}`,
        "too-many-items");
    }
    if (depth >= MAX_DEPTH) {
      throw this.error(at, path, `nested deeper than ${MAX_DEPTH}`, "too-deep");
    }
    if (kind === "array") {
      const items = [];
      for (let i = 0; i < n; i++) items.push(this.value(`${path}[${i}]`, depth + 1));
      return items;
    }
    const map = new Map();
    let previous = null;
    for (let i = 0; i < n; i++) {
      const keyAt = this.pos;
      const key = this.value(path ? `${path}.<key>` : "<key>", depth + 1);
      if (typeof key !== "string") throw this.error(keyAt, path, "a map key is not a str",
        "key-not-str");
      const raw = utf8.encode(key);
      if (previous !== null && compareBytes(raw, previous) <= 0) {
        const same = compareBytes(raw, previous) === 0;
        throw this.error(keyAt, path, `key ${pyRepr(key)} ${same ? "repeated" :
          "not after the key before it"}`, same ? "duplicate-key" : "keys-unsorted");
      }
      previous = raw;
      map.set(key, this.value(path ? `${path}.${key}` : key, depth + 1));
    }
    return map;
  }

  integer(b, at, path) {
    const raw = this.take(WIDTH[b], path);
    const hex = (x) => "0x" + x.toString(16).padStart(2, "0");
    if (b in UINT_MIN) {
      const n = this.uint(raw);
      if (n < UINT_MIN[b]) {
        throw this.error(at, path, `${n} written as ${hex(b)}: a shorter form holds it`,
          "not-shortest");
      }
      return n;
    }
    const n = BigInt.asIntN(raw.length * 8, this.uint(raw));
    if (n >= 0n) {
      throw this.error(at, path, `non-negative ${n} in a signed format (${hex(b)}): ` +
        "non-negative integers use the unsigned forms", "not-shortest");
    }
    if (n > INT_MAX[b]) {
      throw this.error(at, path, `${n} written as ${hex(b)}: a shorter form holds it`,
        "not-shortest");
    }
    return n;
  }
}

/** One canonical MessagePack value from `data` (at most 65,535 bytes). */
export function decodeValue(data, maxSize = MAX_ENTRY_SIZE) {
  if (data.length > maxSize) {
    throw malformed(`value is ${data.length} bytes, over the limit of ${maxSize}`, "too-large");
  }
  const scan = new Scan(data);
  const value = scan.value("", 0);
  if (scan.pos !== data.length) {
    const extra = data.length - scan.pos;
    throw scan.error(scan.pos, "", `${extra} trailing byte(s) after the value`,
      "trailing-bytes");
  }
  return value;
}

/** Python's type name of a decoded value, as the library's messages say it. */
export function pyType(v) {
  if (typeof v === "bigint") return "int";
  if (typeof v === "string") return "str";
  if (typeof v === "boolean") return "bool";
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return "list";
  if (v instanceof Map) return "dict";
  return typeof v;
}

// --- entries ----------------------------------------------------------------------------

const entryBad = (message, code) => malformed(`entry: ${message}`, code);

/** The entry envelope {body, key, sig, v} of canonical entry bytes. */
export function decodeEntryEnvelope(data) {
  if (data.length > MAX_ENTRY_SIZE) {
    throw entryBad(`${data.length} bytes, over the limit of ${MAX_ENTRY_SIZE}`, "entry-too-large");
  }
  const value = decodeValue(data);
  if (!(value instanceof Map)) throw entryBad(`expected a map, got ${pyType(value)}`, "bad-entry");
  const keys = [...value.keys()];
  if (keys.join(",") !== "body,key,sig,v") {
    throw entryBad(`expected exactly the keys body, key, sig, v; got ${keys.join(", ")}`,
      "bad-entry");
  }
  const body = value.get("body");
  const key = value.get("key");
  const sig = value.get("sig");
  const v = value.get("v");
  if (!(body instanceof Uint8Array)) throw entryBad(`body must be bin, got ${pyType(body)}`,
    "bad-entry");
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw entryBad("key must be a 32-byte bin", "bad-entry-key");
  }
  if (!(sig instanceof Uint8Array) || sig.length !== 64) {
    throw entryBad("sig must be a 64-byte bin", "bad-entry-sig");
  }
  if (v !== 1n) throw entryBad(`v must be the int 1, got ${pyValue(v)}`, "bad-entry-version");
  return { body, key, sig };
}

function pyValue(v) {
  if (typeof v === "bigint") return String(v);
  if (typeof v === "string") return pyRepr(v);
  if (typeof v === "boolean") return v ? "True" : "False";
  if (v instanceof Uint8Array) return "b'...'";
  return pyType(v);
}

// --- records ----------------------------------------------------------------------------

const RULE_SETS = new Set(["presidential", "local", "parliamentary", "european", "mail",
  "referendum"]);
const STAGES = ["PROV", "PART", "FINAL"];
const COUNTS_REQUIRED = ["LP", "LS", "UM", "LT"];
const COUNTS_ALL = new Set(["LP", "LS", "UM", "LT", "LSC", "LC"]);
const UINT_MAX = (1n << 64n) - 1n;
export const COUNTY_CODES = new Set(("AB AR AG BC BH BN BT BV BR BZ CS CL CJ CT CV DB DJ GL GR " +
  "GJ HR HD IL IS IF MM MH MS NT OT PH SM SJ SB SV TR TM TL VS VL VN B SR").split(" "));
const STATION_ID = /^([A-Z]{1,2})-(C?)([1-9][0-9]*)$/;

export function stationIdProblem(id) {
  const m = STATION_ID.exec(id);
  if (m === null) {
    return "expected <county code>-<number> (or <county code>-C<number> for mail votes)";
  }
  if (!COUNTY_CODES.has(m[1])) return `${pyRepr(m[1])} is not one of the 43 county codes`;
  return null;
}

function fail(kind, field, message, code = "bad-field") {
  const prefix = field ? `${kind}.${field}` : `${kind} record`;
  return malformed(`${prefix}: ${message}`, code, "encoding", {});
}

const needStr = (kind, field, v) => {
  if (typeof v !== "string") throw fail(kind, field, `expected str, got ${pyType(v)}`);
};
const needOptStr = (kind, field, v) => {
  if (v !== undefined) needStr(kind, field, v);
};
function needUint(kind, field, v) {
  if (typeof v !== "bigint") throw fail(kind, field, `expected int, got ${pyType(v)}`);
  if (v < 0n) throw fail(kind, field, `must be non-negative, got ${v}`, "negative");
  if (v > UINT_MAX) throw fail(kind, field, `over the 64-bit limit, got ${v}`, "too-large");
}
function needBin(kind, field, v, size) {
  if (!(v instanceof Uint8Array)) throw fail(kind, field, `expected bin, got ${pyType(v)}`);
  if (v.length !== size) {
    throw fail(kind, field, `expected ${size} bytes, got ${v.length}`, "bad-length");
  }
}
function needStationId(kind, v, field = "station") {
  if (typeof v !== "string") throw fail(kind, field, `expected str, got ${pyType(v)}`);
  const problem = stationIdProblem(v);
  if (problem !== null) {
    throw malformed(`${kind}.${field} ${pyRepr(v.slice(0, 80))}: ${problem}`, "bad-station-id");
  }
}
function needUintMap(kind, field, v) {
  if (!(v instanceof Map)) throw fail(kind, field, `expected map, got ${pyType(v)}`);
  for (const [name, count] of v) {
    needStr(kind, field, name);
    needUint(kind, `${field}.${name}`, count);
  }
}
function needCompetitors(kind, field, v) {
  if (!Array.isArray(v)) throw fail(kind, field, "expected a tuple of str");
  if (v.length === 0) throw fail(kind, field, "a ballot has at least one competitor",
    "empty-ballot");
  for (const name of v) needStr(kind, field, name);
  if (new Set(v).size !== v.length) {
    const repeated = [...new Set(v.filter((n, i) => v.indexOf(n) !== i))].sort();
    throw fail(kind, field, `competitor named twice: [${repeated.map(pyRepr).join(", ")}]`,
      "repeated-competitor");
  }
}

function exactKeys(kind, field, value, required, optional) {
  if (!(value instanceof Map)) throw fail(kind, field, `expected a map, got ${pyType(value)}`);
  const missing = required.filter((k) => !value.has(k)).sort();
  if (missing.length) throw fail(kind, field, `missing field ${missing.join(", ")}`,
    "missing-field");
  const extra = [...value.keys()].filter((k) => !required.includes(k) && !optional.includes(k))
    .sort();
  if (extra.length) throw fail(kind, field, `unknown field ${extra.join(", ")}`, "unknown-field");
  return value;
}

function needArray(kind, field, v) {
  if (!Array.isArray(v)) throw fail(kind, field, `expected an array, got ${pyType(v)}`);
  return v;
}

const DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

function checkDate(text) {
  if (!DATE.test(text)) throw fail("election", "date", `expected YYYY-MM-DD, got ${pyRepr(text)}`);
  const [y, m, d] = text.split("-").map(Number);
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30,
    31, 31, 30, 31, 30, 31];
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1]) {
    throw fail("election", "date", `not a calendar date: ${pyRepr(text)}`);
  }
}

const PARSERS = {
  election: [["kind", "name", "date", "tz", "categories"], [], (v) => {
    const categories = v.get("categories");
    if (!(categories instanceof Map)) throw fail("election", "categories", "expected a map");
    const parsed = new Map();
    for (const [code, c] of categories) {
      const m = exactKeys("election", `categories.${code}`, c, ["rules"], ["competitors", "scope"]);
      let competitors = m.get("competitors");
      if (competitors !== undefined) {
        competitors = needArray("election", `categories.${code}.competitors`, competitors);
      }
      const rules = m.get("rules");
      const scope = m.get("scope");
      needStr("election", "categories.rules", rules);
      if (!RULE_SETS.has(rules)) {
        throw fail("election", "categories.rules", `unknown rule set ${pyRepr(rules)}`);
      }
      if ((competitors === undefined) === (scope === undefined)) {
        throw fail("election", "categories", "a category has exactly one of competitors and " +
          "scope", "bad-category");
      }
      if (competitors !== undefined) needCompetitors("election", "categories.competitors",
        competitors);
      if (scope !== undefined) {
        needStr("election", "categories.scope", scope);
        if (scope !== "county" && scope !== "uat") {
          throw fail("election", "categories.scope", `expected county or uat, got ${pyRepr(scope)}`);
        }
      }
      parsed.set(code, { rules, competitors, scope });
    }
    needStr("election", "name", v.get("name"));
    needStr("election", "date", v.get("date"));
    checkDate(v.get("date"));
    needStr("election", "tz", v.get("tz"));
    if (!v.get("tz")) throw fail("election", "tz", "empty time zone");
    return { name: v.get("name"), date: v.get("date"), tz: v.get("tz"), categories: parsed };
  }],
  ballot: [["kind", "category", "constituency", "competitors"], [], (v) => {
    const competitors = needArray("ballot", "competitors", v.get("competitors"));
    needStr("ballot", "category", v.get("category"));
    needStr("ballot", "constituency", v.get("constituency"));
    needCompetitors("ballot", "competitors", competitors);
    return { category: v.get("category"), constituency: v.get("constituency"), competitors };
  }],
  station: [["kind", "id", "county", "number", "name", "pubkey"],
    ["siruta", "uat", "locality", "medium"], (v) => {
      needStationId("station", v.get("id"), "id");
      needStr("station", "county", v.get("county"));
      needUint("station", "number", v.get("number"));
      needStr("station", "name", v.get("name"));
      needBin("station", "pubkey", v.get("pubkey"), 32);
      if (v.has("siruta")) needUint("station", "siruta", v.get("siruta"));
      for (const f of ["uat", "locality", "medium"]) needOptStr("station", f, v.get(f));
      return Object.fromEntries(v);
    }],
  revoke: [["kind", "key", "reason"], [], (v) => {
    needBin("revoke", "key", v.get("key"), 32);
    needStr("revoke", "reason", v.get("reason"));
    return Object.fromEntries(v);
  }],
  turnout: [["kind", "station", "at", "registered", "counts"], ["buckets", "correction"], (v) => {
    const reg = exactKeys("turnout", "registered", v.get("registered"), ["permanent"],
      ["complementary"]);
    const counts = v.get("counts");
    if (!(counts instanceof Map)) throw fail("turnout", "counts", "expected a map");
    const buckets = v.get("buckets");
    if (buckets !== undefined && !(buckets instanceof Map)) {
      throw fail("turnout", "buckets", "expected a map");
    }
    needUint("turnout", "registered.permanent", reg.get("permanent"));
    if (reg.has("complementary")) needUint("turnout", "registered.complementary",
      reg.get("complementary"));
    needStationId("turnout", v.get("station"));
    needUint("turnout", "at", v.get("at"));
    needUintMap("turnout", "counts", counts);
    const names = [...counts.keys()];
    const missing = COUNTS_REQUIRED.filter((k) => !counts.has(k)).sort();
    const extra = names.filter((k) => !COUNTS_ALL.has(k)).sort();
    if (missing.length || extra.length) {
      throw fail("turnout", "counts", `missing [${missing.map(pyRepr).join(", ")}], unknown ` +
        `[${extra.map(pyRepr).join(", ")}]`, "bad-counts");
    }
    if (buckets !== undefined) needUintMap("turnout", "buckets", buckets);
    const correction = v.get("correction");
    if (correction !== undefined) {
      needStr("turnout", "correction", correction);
      if (!correction) throw fail("turnout", "correction", "a correction says why: empty",
        "empty");
    }
    return { station: v.get("station"), at: v.get("at"), registered: reg, counts, buckets,
      correction };
  }],
  report: [["kind", "station", "category", "version", "stage", "at", "fields", "votes"],
    ["attachments"], (v) => {
      for (const name of ["fields", "votes"]) {
        if (!(v.get(name) instanceof Map)) throw fail("report", name, "expected a map");
      }
      let attachments = v.get("attachments");
      if (attachments !== undefined) attachments = needArray("report", "attachments", attachments);
      needStationId("report", v.get("station"));
      needStr("report", "category", v.get("category"));
      needUint("report", "version", v.get("version"));
      needStr("report", "stage", v.get("stage"));
      if (!STAGES.includes(v.get("stage"))) {
        throw fail("report", "stage", `expected PROV, PART or FINAL, got ${pyRepr(v.get("stage"))}`);
      }
      needUint("report", "at", v.get("at"));
      needUintMap("report", "fields", v.get("fields"));
      needUintMap("report", "votes", v.get("votes"));
      if (attachments !== undefined) {
        if (!attachments.length) throw fail("report", "attachments", "when present, it is " +
          "non-empty", "empty");
        for (const d of attachments) needBin("report", "attachments", d, 32);
      }
      return { station: v.get("station"), category: v.get("category"), version: v.get("version"),
        stage: v.get("stage"), at: v.get("at"), fields: v.get("fields"), votes: v.get("votes"),
        attachments };
    }],
  block: [["kind", "height", "prev", "first", "count", "time"], ["checkpoint"], (v) => {
    needUint("block", "height", v.get("height"));
    needBin("block", "prev", v.get("prev"), 32);
    needUint("block", "first", v.get("first"));
    needUint("block", "count", v.get("count"));
    needUint("block", "time", v.get("time"));
    needOptStr("block", "checkpoint", v.get("checkpoint"));
    return Object.fromEntries(v);
  }],
  log: [["kind", "id", "origin", "vkey"], [], (v) => {
    for (const f of ["id", "origin", "vkey"]) needStr("log", f, v.get(f));
    return Object.fromEntries(v);
  }],
  checkpoint: [["kind", "log", "note"], [], (v) => {
    needStr("checkpoint", "log", v.get("log"));
    needStr("checkpoint", "note", v.get("note"));
    return Object.fromEntries(v);
  }],
};

/** The record a decoded value holds: exact kind, exact fields, exact types. */
export function recordFromValue(value) {
  if (!(value instanceof Map)) {
    throw malformed(`a record is a map, got ${pyType(value)}`, "record-not-map");
  }
  const kind = value.get("kind");
  if (typeof kind !== "string") throw malformed("a record needs a str field kind", "record-kind");
  const spec = PARSERS[kind];
  if (!Object.hasOwn(PARSERS, kind)) {
    throw malformed(`unknown record kind ${pyRepr(kind)}`, "unknown-kind");
  }
  const [required, optional, parse] = spec;
  const record = parse(exactKeys(kind, "", value, required, optional));
  record.kind = kind;
  return record;
}

/** An entry and its record from entry bytes. */
export function decodeEntryRecord(data) {
  const entry = decodeEntryEnvelope(data);
  let value;
  try {
    value = decodeValue(entry.body);
  } catch (e) {
    if (e instanceof CheckError) throw malformed(`entry body: ${e.message}`, e.code);
    throw e;
  }
  return { entry, record: recordFromValue(value) };
}
