// The observer's page (docs/observer.md): verifies, in the browser, the checkpoint, a receipt
// and a station's records against the publisher key and policy written into this page, with
// nothing but the static files beside it. Romanian first, English on the switch.

import { isPrimeOrderKey, makeCrypto } from "./crypto.js";
import {
  CheckError, decodeEntryRecord, decodeValue, recordFromValue, toHex, utf8,
} from "./codec.js";
import {
  MAX_RECEIPT_SIZE, TileReader, checkReceipt, checkWitnessed, leafHash, loadPolicy,
  openLedgerCheckpoint, parseReceipt, parseUnverifiedNote, parseVerifierKey,
  verifyEntrySignature, verifyInclusion,
} from "./checks.js";

const T = {
  ro: {
    title: "Verificarea jurnalului electoral",
    lead: "Pagina verifică în browser, fără server și fără cont, ce a publicat autoritatea: " +
      "semnăturile, cosemnăturile martorilor și includerea fiecărei înregistrări în jurnal.",
    lang: "English",
    checkpoint: "Punctul de control",
    receipt: "Verifică o chitanță",
    station: "Caută o secție de votare",
    dropHint: "Trage aici fișierul .tlog-proof (și, pentru o înregistrare semnată de secție, " +
      "chitanța secției) sau alege-l:",
    pick: "Alege fișierele",
    search: "Caută",
    searchHint: "Codul secției (de exemplu AB-1) sau o parte din nume",
    size: "Înregistrări în jurnal",
    root: "Rădăcina arborelui",
    lastBlock: "Ultimul bloc sigilat",
    cosigned: "Cosemnat de",
    noPolicy: "Pagina nu are o politică de martori: cosemnăturile nu sunt verificate",
    notChecked: "semnături neverificate (chei necunoscute paginii)",
    none: "niciun martor",
    origin: "Jurnalul",
    crypto: "Criptografie",
    cryptoWeb: "WebCrypto al browserului",
    cryptoJs: "JavaScript (@noble/ed25519)",
    insecure: "Pagina nu este deschisă într-un context sigur (https sau localhost): browserul " +
      "nu oferă WebCrypto aici, așa că verificarea folosește implementarea JavaScript inclusă. " +
      "Verifică adresa paginii: doar https arată că fișierele vin nealterate de pe server.",
    ok: "Verificat",
    failed: "Verificarea a eșuat",
    file: "fișierul",
    check: "verificarea",
    working: "Se verifică…",
    okCheckpoint: (s) => `Punctul de control al jurnalului ${s.origin} este semnat de ` +
      `publicator${s.cosigned}: ${s.size} înregistrări.`,
    okReceipt: (s) => `Intrarea ${s.index} (${s.what}) este în jurnalul ${s.origin} la ` +
      `dimensiunea ${s.size}.`,
    okStation: (s) => `Secția ${s.station}: ${s.count} înregistrări, fiecare dovedită inclusă ` +
      `în punctul de control verificat (dimensiunea ${s.size}) și semnată.`,
    withQuorum: " și cosemnat de martori până la cvorumul politicii",
    signedBy: "Semnat de",
    publisher: "publicator",
    stationKey: (st, at) => `cheia secției ${st}, înregistrată la intrarea ${at}`,
    notShown: "Ce nu poate arăta o chitanță",
    "not-revoked": (n) => `că cheia secției ${n.station}, înregistrată la intrarea ${n.at}, nu ` +
      `a fost revocată sau înlocuită înainte de intrarea ${n.index}: doar un audit complet ` +
      "(ledger verify) o arată",
    "not-registered": (n) => `că secția ${n.station} era înregistrată înainte de intrarea ` +
      `${n.index}: doar un audit complet (ledger verify) o arată`,
    "not-replaced": (n) => `că nicio înregistrare ulterioară nu a înlocuit sau revocat cheia ` +
      `înregistrată la intrarea ${n.index}: doar un audit complet (ledger verify) o arată`,
    kinds: { station: "înregistrarea secției", turnout: "prezența", report: "procesul-verbal",
      block: "bloc", election: "alegerea", ballot: "buletinul", revoke: "revocarea" },
    ofStation: (what, st) => `${what}, secția ${st}`,
    at: "la",
    registered: "Înscriși",
    permanent: "lista permanentă",
    complementary: "lista complementară",
    came: "Au venit",
    votes: "Voturi",
    version: "versiunea",
    stage: "etapa",
    verified: "verificat",
    turnoutChart: "Prezența în cursul zilei (% din înscriși)",
    reports: "Procese-verbale",
    turnouts: "Prezență",
    noMatch: "Nicio secție găsită",
    matches: "Secții găsite",
    stationRecord: "Secția",
    fromBundles: "(fără index de secții: citit din toate pachetele de intrări)",
    superseded: "înlocuit de o versiune ulterioară",
    stationFields: { id: "cod", name: "nume", county: "județ", number: "număr", siruta: "SIRUTA",
      uat: "UAT", locality: "localitate", medium: "mediu", pubkey: "cheie publică" },
  },
  en: {
    title: "Election ledger check",
    lead: "This page checks in your browser, with no server and no account, what the authority " +
      "published: the signatures, the witnesses' cosignatures and each record's inclusion.",
    lang: "Română",
    checkpoint: "The checkpoint",
    receipt: "Check a receipt",
    station: "Look a polling station up",
    dropHint: "Drop the .tlog-proof file here (and, for a station-signed record, the station's " +
      "receipt too), or pick it:",
    pick: "Pick files",
    search: "Search",
    searchHint: "Station id (for example AB-1) or part of its name",
    size: "Entries in the log",
    root: "Tree root",
    lastBlock: "Last block sealed",
    cosigned: "Cosigned by",
    noPolicy: "This page has no witness policy: cosignatures are not checked",
    notChecked: "signatures not checked (keys this page does not know)",
    none: "no witness",
    origin: "Log",
    crypto: "Cryptography",
    cryptoWeb: "the browser's WebCrypto",
    cryptoJs: "JavaScript (@noble/ed25519)",
    insecure: "This page is not in a secure context (https or localhost): the browser offers no " +
      "WebCrypto here, so the checks use the JavaScript implementation shipped with the page. " +
      "Check the page's address: only https shows that the files came unaltered from the server.",
    ok: "Verified",
    failed: "Check failed",
    file: "file",
    check: "check",
    working: "Checking…",
    okCheckpoint: (s) => `The checkpoint of ${s.origin} is signed by the publisher` +
      `${s.cosigned}: ${s.size} entries.`,
    okReceipt: (s) => `Entry ${s.index} (${s.what}) is in the log ${s.origin} at tree size ` +
      `${s.size}.`,
    okStation: (s) => `Station ${s.station}: ${s.count} records, each proved included in the ` +
      `verified checkpoint (size ${s.size}) and signed.`,
    withQuorum: " and cosigned by witnesses to the policy's quorum",
    signedBy: "Signed by",
    publisher: "the publisher",
    stationKey: (st, at) => `station ${st}'s key, registered at entry ${at}`,
    notShown: "What a receipt cannot show",
    "not-revoked": (n) => `that station ${n.station}'s key, registered at entry ${n.at}, was ` +
      `neither revoked nor replaced before entry ${n.index} (only a full audit, ledger verify, ` +
      "shows it)",
    "not-registered": (n) => `that station ${n.station} was registered before entry ${n.index} ` +
      "(only a full audit, ledger verify, shows it)",
    "not-replaced": (n) => `that no later record replaced or revoked the key registered at ` +
      `entry ${n.index} (only a full audit, ledger verify, shows it)`,
    kinds: { station: "station record", turnout: "turnout", report: "report", block: "block",
      election: "election", ballot: "ballot", revoke: "revoke" },
    ofStation: (what, st) => `${what} of station ${st}`,
    at: "at",
    registered: "Registered",
    permanent: "permanent list",
    complementary: "complementary list",
    came: "Came",
    votes: "Votes",
    version: "version",
    stage: "stage",
    verified: "verified",
    turnoutChart: "Turnout through the day (% of registered voters)",
    reports: "Reports",
    turnouts: "Turnout",
    noMatch: "No station found",
    matches: "Stations found",
    stationRecord: "Station",
    fromBundles: "(no station index: read from every entry bundle)",
    superseded: "superseded by a later version",
    stationFields: { id: "id", name: "name", county: "county", number: "number", siruta: "SIRUTA",
      uat: "UAT", locality: "locality", medium: "medium", pubkey: "public key" },
  },
};

// What report letters and turnout counters count, in Romanian (the English comes with the page's
// trust block, from the library).
const CAME = "alegători prezentați la urne";
const LISTS = { b1: `${CAME}, pe lista permanentă`, b2: `${CAME}, pe listele suplimentare`,
  b3: `${CAME}, cu urna mobilă` };
const PRESIDENTIAL_RO = { a: "alegători înscriși în liste", b: CAME, ...LISTS,
  c: "voturi valabil exprimate", d: "voturi nule", e: "buletine de vot primite",
  f: "buletine neîntrebuințate sau anulate" };
const PARLIAMENTARY_RO = { a: "alegători înscriși în liste", b: CAME, ...LISTS,
  c: "buletine de vot primite", d: "buletine neîntrebuințate sau anulate",
  e: "voturi valabil exprimate", f: "voturi nule", g: "voturi albe" };
const FIELDS_RO = {
  presidential: PRESIDENTIAL_RO,
  local: { ...PRESIDENTIAL_RO, b4: `${CAME}, pe lista complementară` },
  parliamentary: PARLIAMENTARY_RO,
  european: Object.fromEntries(Object.entries(PARLIAMENTARY_RO).filter(([k]) => k !== "g")),
  mail: { d1: "voturi valabile" },
  referendum: { 2: "participanți", 5: "voturi DA", 6: "voturi NU", 7: "voturi nule" },
};
const COUNTS_RO = { LP: "lista permanentă", LS: "liste suplimentare", UM: "urna mobilă",
  LC: "lista complementară", LSC: "lista LSC", LT: "total" };

const CONFIG = JSON.parse(document.getElementById("trust").textContent);
const hash = new URLSearchParams(location.hash.slice(1));
let lang = hash.get("lang") === "en" ? "en" : "ro";
const t = (key) => T[lang][key];
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

const num = (n) => new Intl.NumberFormat(lang === "ro" ? "ro-RO" : "en-GB").format(n);
function when(ms) {
  const options = { timeZone: CONFIG.tz || "UTC", dateStyle: "medium", timeStyle: "medium" };
  try {
    return new Intl.DateTimeFormat(lang === "ro" ? "ro-RO" : "en-GB", options)
      .format(new Date(Number(ms))) + ` (${CONFIG.tz || "UTC"})`;
  } catch (e) {
    return new Date(Number(ms)).toISOString();
  }
}

// --- fetching (relative URLs only: the page works from any mirror's copy) -------------------

const MAX_FILE = 256 * (2 + 65535);

async function fetchBytes(path) {
  let response;
  try {
    // Tiles and bundles are immutable: the browser's cache may keep them; the rest is asked again.
    const cache = path.startsWith("tile/") ? "default" : "no-cache";
    response = await fetch(new URL(path, document.baseURI), { cache });
  } catch (e) {
    throw new CheckError(`could not be fetched: ${e.message}`,
      { category: "source", code: "fetch", where: { file: path } });
  }
  if (!response.ok) {
    const error = new CheckError(`HTTP ${response.status}`, { category: "source", code: "fetch",
      where: { file: path } });
    error.status = response.status;
    throw error;
  }
  const data = new Uint8Array(await response.arrayBuffer());
  if (data.length > MAX_FILE) {
    throw new CheckError(`larger than ${MAX_FILE} bytes`, { category: "source",
      code: "too-large", where: { file: path } });
  }
  return data;
}

async function fetchJson(path) {
  const data = await fetchBytes(path);
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch (e) {
    throw new CheckError(`not JSON: ${e.message}`, { category: "tiles", code: "bad-index",
      where: { file: path } });
  }
}

// --- the verdict: <output id="verdict" data-ok data-check> for people and for scripts -------

const timings = {}; // milliseconds from the page's start to each verdict, for the benchmark

function verdict(check, ok, message, error = null) {
  timings[check] = performance.now();
  const out = $("verdict");
  out.dataset.ok = String(ok);
  out.dataset.check = check;
  out.dataset.code = error ? error.code : "ok";
  out.dataset.category = error ? error.category : "";
  out.dataset.file = error && error.where.file ? error.where.file : "";
  out.className = ok ? "verdict ok" : "verdict bad";
  out.textContent = message;
}

function failure(check, error) {
  if (!(error instanceof CheckError)) {
    error = new CheckError(String(error && error.message ? error.message : error),
      { category: "page", code: "internal" });
  }
  verdict(check, false, `${t("failed")} (${t("check")} ${error.category}): ${error.text()}`,
    error);
  return error;
}

function working(check) {
  const out = $("verdict");
  out.dataset.ok = "";
  out.dataset.check = check;
  out.className = "verdict";
  out.textContent = t("working");
}

// --- state ----------------------------------------------------------------------------------

let crypto;
let publisher;
let policy = null;
let verified = null; // { checkpoint, note, cosignedBy, reader }

async function trust() {
  if (!crypto) {
    crypto = await makeCrypto(hash.get("crypto") === "js" ? "js" : "auto");
    publisher = await parseVerifierKey(crypto, CONFIG.vkey);
    if (CONFIG.policy) policy = await loadPolicy(crypto, CONFIG.policy);
  }
}

// --- the checkpoint ---------------------------------------------------------------------------

async function verifyCheckpoint() {
  await trust();
  const note = await fetchBytes("checkpoint");
  let signed;
  let witnessed = null;
  try {
    signed = await openLedgerCheckpoint(crypto, note, publisher);
    if (policy) {
      witnessed = await checkWitnessed(crypto, parseUnverifiedNote(note), policy,
        Math.floor(Date.now() / 1000));
    }
  } catch (e) {
    if (e instanceof CheckError) throw e.at({ file: "checkpoint" });
    throw e;
  }
  const cp = signed.checkpoint;
  const reader = new TileReader(crypto, fetchBytes, cp.size);
  let lastBlock = null;
  if (cp.size > 0n) {
    const last = cp.size - 1n;
    const { record, entry, path } = await provedEntry(reader, last, cp);
    if (record.kind !== "block") {
      throw new CheckError(`the last entry of the checkpoint is a ${record.kind} record, not a ` +
        "block", { category: "chain", code: "not-a-block", where: { file: path, index: last } });
    }
    await verifyEntrySignature(crypto, entry, cp.origin, publisher.publicKey,
      { index: last, file: path });
    lastBlock = record;
  }
  const others = signed.note.signatures.filter((s) => s.name !== publisher.name).map((s) => s.name);
  verified = { checkpoint: cp, cosignedBy: witnessed ? witnessed.cosignedBy : [], others,
    reader, lastBlock };
  renderCheckpoint();
  return verified;
}

/** Entry `i` from its bundle, proved included in `cp` from the hash tiles. */
async function provedEntry(reader, i, cp) {
  const { path, bytes } = await reader.entry(i);
  const tiles = new Set();
  try {
    const proof = await reader.inclusionProof(i, tiles);
    await verifyInclusion(crypto, await leafHash(crypto, bytes), i, cp.size, proof, cp.root);
  } catch (e) {
    if (e instanceof CheckError && e.code === "root-mismatch") {
      const read = [path, ...tiles].join(", ");
      throw new CheckError(`${e.message} (read from ${read})`, { category: "tiles",
        code: "root-mismatch", where: { file: path, index: i } });
    }
    if (e instanceof CheckError) throw e.at({ index: i });
    throw e;
  }
  try {
    return { path, ...decodeEntryRecord(bytes) };
  } catch (e) {
    if (e instanceof CheckError) throw e.at({ file: path, index: i });
    throw e;
  }
}

function renderCheckpoint() {
  const box = $("checkpoint-view");
  box.replaceChildren();
  if (!verified) return;
  const cp = verified.checkpoint;
  const rows = [
    [t("origin"), cp.origin],
    [t("size"), num(cp.size)],
    [t("lastBlock"), verified.lastBlock ? when(verified.lastBlock.time) : "-"],
    [t("root"), toHex(cp.root)],
    [t("cosigned"), policy ? (verified.cosignedBy.join(", ") || t("none")) : t("noPolicy")],
  ];
  if (!policy && verified.others.length) {
    rows.push([t("notChecked"), verified.others.join(", ")]);
  }
  rows.push([t("crypto"), crypto.mode === "js" ? t("cryptoJs") : t("cryptoWeb")]);
  box.append(table(rows));
}

function table(rows) {
  const dl = el("dl", { class: "facts" });
  for (const [k, v] of rows) dl.append(el("dt", {}, k), el("dd", {}, v));
  return dl;
}

function checkpointMessage() {
  const cp = verified.checkpoint;
  return t("okCheckpoint")({ origin: cp.origin, size: num(cp.size),
    cosigned: policy ? t("withQuorum") + ` (${verified.cosignedBy.join(", ") || t("none")})` : "" });
}

async function runCheckpoint() {
  working("checkpoint");
  try {
    await verifyCheckpoint();
    verdict("checkpoint", true, `${t("ok")}: ${checkpointMessage()}`);
  } catch (e) {
    failure("checkpoint", e);
  }
}

// --- receipts ---------------------------------------------------------------------------------

/** `ledger check-proof` on receipt bytes: the page's answer, for people and for the tests. */
export async function checkReceiptBytes(main, station = null) {
  await trust();
  const where = (file) => (e) => {
    if (e instanceof CheckError) throw e.at({ file });
    throw e;
  };
  if (main.length > MAX_RECEIPT_SIZE) {
    throw new CheckError(`a receipt is larger than ${MAX_RECEIPT_SIZE} bytes`,
      { category: "encoding", code: "malformed" });
  }
  let parsed;
  let parsedStation = null;
  try {
    parsed = parseReceipt(main);
  } catch (e) {
    where("receipt")(e);
  }
  if (station !== null) {
    try {
      parsedStation = parseReceipt(station);
    } catch (e) {
      where("station receipt")(e);
    }
  }
  return checkReceipt(crypto, parsed, publisher, parsedStation, policy,
    Math.floor(Date.now() / 1000), isPrimeOrderKey);
}

function what(record, station) {
  const kind = t("kinds")[record.kind] || record.kind;
  return station && record.kind !== "station" ? t("ofStation")(kind, station)
    : station ? `${kind} ${station}` : kind;
}

function recordView(record) {
  const box = el("div", { class: "record" });
  if (record.kind === "report") {
    const rules = (CONFIG.categories || {})[record.category];
    const meanings = (lang === "ro" ? FIELDS_RO[rules] : null) || (CONFIG.fields || {})[rules] ||
      {};
    box.append(el("p", {}, `${what(record, record.station)}: ${record.category}, ` +
      `${t("version")} ${record.version}, ${t("stage")} ${record.stage}, ${t("at")} ` +
      when(record.at)));
    const rows = [...record.fields].map(([letter, n]) =>
      [meanings[letter] ? `${letter} (${meanings[letter]})` : letter, num(n)]);
    box.append(table(rows));
    box.append(el("h4", {}, t("votes")));
    const votes = el("table", { class: "votes" });
    for (const [name, n] of record.votes) votes.append(el("tr", {}, el("td", {}, name),
      el("td", { class: "n" }, num(n))));
    box.append(votes);
  } else if (record.kind === "turnout") {
    const reg = record.registered;
    box.append(el("p", {}, `${what(record, record.station)} ${t("at")} ${when(record.at)}`));
    const rows = [[t("registered"), `${num(reg.get("permanent"))} ${t("permanent")}` +
      (reg.has("complementary") ? `, ${num(reg.get("complementary"))} ${t("complementary")}`
        : "")]];
    for (const [k, n] of record.counts) {
      const meaning = (lang === "ro" ? COUNTS_RO[k] : null) || (CONFIG.counts || {})[k] || k;
      rows.push([`${t("came")}: ${k} (${meaning})`, num(n)]);
    }
    box.append(table(rows));
  } else if (record.kind === "station") {
    const label = t("stationFields");
    box.append(table([...["id", "name", "county", "number", "siruta", "uat", "locality",
      "medium"].filter((f) => record[f] !== undefined).map((f) => [label[f], String(record[f])]),
    [label.pubkey, toHex(record.pubkey)]]));
  } else {
    box.append(el("p", {}, record.kind));
  }
  return box;
}

async function runReceipt(main, station, label) {
  working("receipt");
  const box = $("receipt-view");
  box.replaceChildren();
  try {
    const checked = await checkReceiptBytes(main, station);
    const cp = checked.checkpoint;
    const rows = [[t("signedBy"), checked.signedBy === "publisher" ? t("publisher")
      : t("stationKey")(checked.station, checked.stationIndex)],
    [t("root"), toHex(cp.root)],
    [t("cosigned"), policy ? (checked.cosignedBy.join(", ") || t("none")) : t("noPolicy")]];
    box.append(table(rows), recordView(checked.record));
    if (checked.notShown.length) {
      box.append(el("h4", {}, t("notShown")));
      const list = el("ul", { class: "not-shown" });
      for (const n of checked.notShown) list.append(el("li", {}, t(n.key)(n)));
      box.append(list);
    }
    verdict("receipt", true, `${t("ok")}: ` + t("okReceipt")({ index: checked.index,
      what: what(checked.record, checked.station), origin: cp.origin, size: num(cp.size) }));
  } catch (e) {
    failure("receipt", e);
  }
  if (label) box.prepend(el("p", { class: "muted" }, label));
}

async function receiptFiles(files) {
  const read = await Promise.all([...files].slice(0, 2).map(async (f) => ({ name: f.name,
    data: new Uint8Array(await f.arrayBuffer()) })));
  let [main, station] = read;
  if (station) {
    // The station receipt is the one holding a station record; otherwise the order given.
    const holdsStation = (r) => {
      try {
        return decodeEntryRecord(parseReceipt(r.data).extra).record.kind === "station";
      } catch (e) {
        return false;
      }
    };
    if (holdsStation(main) && !holdsStation(station)) [main, station] = [station, main];
  }
  await runReceipt(main.data, station ? station.data : null,
    read.map((r) => r.name).join(" + "));
}

// --- stations -----------------------------------------------------------------------------------

// Without a station index: every entry bundle is read (8 at a time, none kept), and only the
// entries whose bytes hold what is looked for are decoded (then checked in full).
const KIND_STATION = Uint8Array.of(0xa4, ...utf8.encode("kind"), 0xa7, ...utf8.encode("station"));
let names = null;

function holds(bytes, pattern) {
  const first = pattern[0];
  outer: for (let i = bytes.indexOf(first); i >= 0 && i + pattern.length <= bytes.length;
    i = bytes.indexOf(first, i + 1)) {
    for (let j = 1; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return true;
  }
  return false;
}

/** msgpack's encoding of a short str (a station id): its header and its bytes. */
function packedStr(text) {
  const bytes = utf8.encode(text);
  return Uint8Array.of(0xa0 | bytes.length, ...bytes);
}

async function scanBundles(cp, reader, pattern, visit) {
  const bundles = Number((cp.size + 255n) / 256n);
  const WINDOW = 8;
  for (let start = 0; start < bundles; start += WINDOW) {
    const batch = [];
    for (let b = start; b < Math.min(bundles, start + WINDOW); b++) {
      batch.push(reader.bundle(b, false).then((bundle) => ({ b, bundle })));
    }
    for (const { b, bundle } of await Promise.all(batch)) {
      bundle.entries.forEach((bytes, j) => {
        if (!holds(bytes, pattern)) return;
        const i = BigInt(b) * 256n + BigInt(j);
        try {
          visit(i, decodeEntryRecord(bytes).record);
        } catch (e) {
          if (e instanceof CheckError) throw e.at({ file: bundle.path, index: i });
          throw e;
        }
      });
    }
  }
}

async function scannedNames(cp, reader) {
  if (names && names.size === cp.size) return names.stations;
  const stations = new Map();
  await scanBundles(cp, reader, KIND_STATION, (i, record) => {
    if (record.kind === "station") stations.set(record.id, record.name);
  });
  names = { size: cp.size, stations };
  return stations;
}

async function scannedLists(id, cp, reader) {
  const lists = { station: [], turnout: [], report: [] };
  await scanBundles(cp, reader, packedStr(id), (i, record) => {
    const named = record.kind === "station" ? record.id : record.station;
    if (named === id && record.kind in lists) lists[record.kind].push(i);
  });
  return lists;
}

/** The station index (id -> name), or null when the tree has none (HTTP 404). */
async function indexFile() {
  try {
    return new Map(Object.entries(await fetchJson("stations/index.json")));
  } catch (e) {
    if (!(e instanceof CheckError) || e.status !== 404) throw e;
  }
  return null;
}

async function stationIndex(cp, reader) {
  const index = await indexFile();
  if (index !== null) return { stations: index, fromIndex: true };
  return { stations: await scannedNames(cp, reader), fromIndex: false };
}

async function stationEntries(id, fromIndex, cp, reader) {
  if (fromIndex) {
    const file = `stations/${encodeURIComponent(id)}.json`;
    const data = await fetchJson(file);
    const lists = data && data.entries;
    const ok = data && data.station === id && lists && ["station", "turnout", "report"].every(
      (k) => Array.isArray(lists[k]) && lists[k].every((i) => Number.isSafeInteger(i) && i >= 0));
    if (!ok) {
      throw new CheckError(`not a station index file of ${id}`, { category: "tiles",
        code: "bad-index", where: { file } });
    }
    return { file, lists: { station: lists.station.map(BigInt), turnout: lists.turnout.map(BigInt),
      report: lists.report.map(BigInt) } };
  }
  return { file: "tile/entries", lists: await scannedLists(id, cp, reader) };
}

const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

async function runStationSearch(query) {
  working("station");
  const box = $("station-view");
  box.replaceChildren();
  try {
    const { checkpoint: cp, reader } = verified || await verifyCheckpoint();
    const { stations, fromIndex } = await stationIndex(cp, reader);
    const q = query.trim();
    const exact = [...stations.keys()].find((id) => id.toUpperCase() === q.toUpperCase());
    if (exact) return runStation(exact);
    const found = [...stations].filter(([, name]) => fold(String(name)).includes(fold(q)))
      .slice(0, 50);
    if (found.length === 1) return runStation(found[0][0]);
    if (!found.length) {
      verdict("station", false, `${t("noMatch")}: ${q}`, new CheckError("no match",
        { category: "lookup", code: "not-found" }));
      return null;
    }
    const list = el("ul", { class: "matches" });
    for (const [id, name] of found) {
      const a = el("a", { href: `#station=${encodeURIComponent(id)}` }, `${id}: ${name}`);
      list.append(el("li", {}, a));
    }
    box.append(el("h3", {}, `${t("matches")} ${fromIndex ? "" : t("fromBundles")}`), list);
    verdict("station", true, `${t("matches")}: ${found.length}`);
  } catch (e) {
    failure("station", e);
  }
  return null;
}

async function runStation(id) {
  working("station");
  const box = $("station-view");
  box.replaceChildren();
  try {
    const { checkpoint: cp, reader } = verified || await verifyCheckpoint();
    const fromIndex = (await indexFile()) !== null;
    const { file, lists } = await stationEntries(id, fromIndex, cp, reader);
    const all = [...lists.station, ...lists.turnout, ...lists.report]
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (!lists.station.length) {
      throw new CheckError(`no station record of ${id}`, { category: "lookup",
        code: "not-found", where: { file } });
    }
    const publisherId = await crypto.sha256(publisher.publicKey);
    const keys = []; // [index, pubkey] of the station's registrations, in order
    const records = [];
    const beyond = all.find((i) => i >= cp.size);
    if (beyond !== undefined) {
      throw new CheckError(`lists entry ${beyond}, beyond the checkpoint's ${cp.size} entries`,
        { category: "tiles", code: "bad-index", where: { file } });
    }
    // Every record's inclusion proved at once (tiles are fetched once), then each one checked
    // in log order: its station and its signature.
    const proved = await Promise.all(all.map((i) => provedEntry(reader, i, cp)));
    for (const [n, i] of all.entries()) {
      const { record, entry, path } = proved[n];
      const named = record.kind === "station" ? record.id : record.station;
      if (named !== id || !["station", "turnout", "report"].includes(record.kind)) {
        throw new CheckError(`lists entry ${i}, a ${record.kind} record of ${named}, not of ` +
          `station ${id}`, { category: "tiles", code: "bad-index", where: { file, index: i } });
      }
      const where = { file: path, index: i, station: id };
      if (record.kind === "station" || sameKey(entry.key, publisherId)) {
        await verifyEntrySignature(crypto, entry, cp.origin, publisher.publicKey, where);
        if (record.kind === "station") keys.push([i, record.pubkey]);
      } else {
        const reg = keys.filter(([at]) => at < i).pop();
        if (!reg || !sameKey(await crypto.sha256(reg[1]), entry.key)) {
          throw new CheckError(`entry ${i} is not signed by the publisher nor by the key station ` +
            `${id} registered last before it`, { category: "keys", code: "station-key-mismatch",
            where });
        }
        await verifyEntrySignature(crypto, entry, cp.origin, reg[1], where);
      }
      records.push({ index: i, record });
    }
    renderStation(id, records, fromIndex);
    verdict("station", true, `${t("ok")}: ` + t("okStation")({ station: id,
      count: records.length, size: num(cp.size) }));
  } catch (e) {
    failure("station", e);
  }
  return null;
}

const sameKey = (a, b) => toHex(a) === toHex(b);

function renderStation(id, records, fromIndex) {
  const box = $("station-view");
  const stationRecord = records.filter((r) => r.record.kind === "station").pop().record;
  box.append(el("h3", {}, `${t("stationRecord")} ${id}: ${stationRecord.name}`));
  if (!fromIndex) box.append(el("p", { class: "muted" }, t("fromBundles")));
  box.append(recordView(stationRecord));
  const turnouts = records.filter((r) => r.record.kind === "turnout");
  if (turnouts.length) {
    box.append(el("h4", {}, t("turnoutChart")), chart(turnouts.map((r) => r.record)));
  }
  const reports = records.filter((r) => r.record.kind === "report");
  if (reports.length) {
    box.append(el("h4", {}, t("reports")));
    const latest = new Map();
    for (const r of reports) latest.set(r.record.category, r);
    for (const r of [...reports].reverse()) {
      const item = el("div", { class: "report", "data-entry": String(r.index) });
      const mark = el("span", { class: "mark ok" }, `✓ ${t("verified")} (${r.index})`);
      item.append(mark);
      if (latest.get(r.record.category) !== r) {
        item.append(el("span", { class: "muted" }, ` ${t("superseded")}`));
      }
      item.append(recordView(r.record));
      box.append(item);
    }
  }
}

/** Turnout through the day: an SVG line of LT over the registered voters, drawn here. */
function chart(turnouts) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  const W = 320;
  const H = 160;
  const pad = 30;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  const points = turnouts.map((r) => {
    const reg = r.registered.get("permanent") + (r.registered.get("complementary") || 0n);
    const lt = r.counts.get("LT");
    return [Number(r.at), reg > 0n ? Number((lt * 10000n) / reg) / 100 : 0];
  }).sort((a, b) => a[0] - b[0]);
  const t0 = points[0][0];
  const t1 = Math.max(points[points.length - 1][0], t0 + 1);
  const top = Math.max(10, Math.ceil(Math.max(...points.map((p) => p[1])) / 10) * 10);
  const x = (ms) => pad + ((ms - t0) / (t1 - t0)) * (W - pad - 10);
  const y = (p) => H - pad + 10 - (p / top) * (H - pad - 10);
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  add("line", { x1: pad, y1: y(0), x2: W - 10, y2: y(0), class: "axis" });
  add("line", { x1: pad, y1: y(0), x2: pad, y2: y(top), class: "axis" });
  add("text", { x: pad - 4, y: y(top) + 4, "text-anchor": "end" }, `${top}%`);
  add("text", { x: pad - 4, y: y(0), "text-anchor": "end" }, "0");
  const hour = (ms) => {
    try {
      return new Intl.DateTimeFormat("ro-RO", { timeZone: CONFIG.tz || "UTC", hour: "2-digit",
        minute: "2-digit" }).format(new Date(ms));
    } catch (e) {
      return new Date(ms).toISOString().slice(11, 16);
    }
  };
  add("text", { x: pad, y: H - 4, "text-anchor": "start" }, hour(t0));
  add("text", { x: W - 10, y: H - 4, "text-anchor": "end" }, hour(t1));
  add("polyline", { points: points.map(([a, p]) => `${x(a).toFixed(1)},${y(p).toFixed(1)}`)
    .join(" "), class: "line" });
  for (const [a, p] of points) {
    add("circle", { cx: x(a).toFixed(1), cy: y(p).toFixed(1), r: 2.5, class: "dot" })
      .append(Object.assign(document.createElementNS(NS, "title"),
        { textContent: `${hour(a)}: ${p}%` }));
  }
  return svg;
}

// --- wiring -----------------------------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  $("search-input").placeholder = t("searchHint");
  $("lang").textContent = t("lang");
  renderCheckpoint();
}

async function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  const receipt = params.get("receipt");
  const station = params.get("station");
  await runCheckpoint();
  if (receipt) {
    try {
      const main = await fetchBytes(receipt);
      const second = params.get("station-receipt");
      await runReceipt(main, second ? await fetchBytes(second) : null, receipt);
    } catch (e) {
      failure("receipt", e);
    }
  } else if (station) {
    await runStation(station);
  }
}

function wire() {
  $("lang").addEventListener("click", () => {
    lang = lang === "ro" ? "en" : "ro";
    applyLanguage();
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    receiptFiles(e.dataTransfer.files);
  });
  $("receipt-files").addEventListener("change", (e) => receiptFiles(e.target.files));
  $("search").addEventListener("submit", (e) => {
    e.preventDefault();
    runStationSearch($("search-input").value);
  });
  window.addEventListener("hashchange", () => {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get("station")) runStation(params.get("station"));
    else if (params.get("receipt")) route();
  });
  if (!globalThis.isSecureContext) $("insecure").hidden = false;
}

// For scripts and the same-answer test: the page's check-proof on bytes given as base64.
window.observer = {
  async checkReceipt(mainB64, stationB64 = null) {
    const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    try {
      const c = await checkReceiptBytes(bytes(mainB64), stationB64 === null ? null
        : bytes(stationB64));
      return { ok: true, index: String(c.index), signedBy: c.signedBy,
        cosignedBy: c.cosignedBy, station: c.station, stationIndex: c.stationIndex === null
          ? null : String(c.stationIndex), kind: c.record.kind };
    } catch (e) {
      if (!(e instanceof CheckError)) throw e;
      return { ok: false, code: e.code, category: e.category, message: e.message,
        index: e.where.index == null ? null : String(e.where.index), text: e.text() };
    }
  },
  /** The page's strict decoder on hex bytes, as `value`, `record` or `entry` (with its record). */
  decode(hex, as) {
    const bytes = Uint8Array.from(hex.match(/../g) || [], (h) => parseInt(h, 16));
    try {
      if (as === "value") decodeValue(bytes);
      else if (as === "record") recordFromValue(decodeValue(bytes));
      else decodeEntryRecord(bytes);
      return { ok: true };
    } catch (e) {
      if (!(e instanceof CheckError)) throw e;
      return { ok: false, code: e.code, category: e.category, message: e.message };
    }
  },
  /** The page's Ed25519 verdict (hex key, message and signature), on the crypto path in use. */
  async verify(pub, msg, sig) {
    await trust();
    const bytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (h) => parseInt(h, 16));
    return crypto.verify(bytes(pub), bytes(msg), bytes(sig));
  },
  cryptoMode: () => (crypto ? crypto.mode : null),
  timings: () => ({ ...timings }),
  utf8: (s) => utf8.encode(s),
};

// Opened as `<mirror>/<hex>` (no final slash), relative URLs would leave the log's folder.
if (!location.pathname.endsWith("/") && !location.pathname.endsWith(".html")) {
  location.replace(location.pathname + "/" + location.search + location.hash);
} else {
  wire();
  applyLanguage();
  route();
}
