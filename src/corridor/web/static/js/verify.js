// Receipts checked in the browser, with WebCrypto only: trust nothing the server says
// beyond the log's public key.
//
// A receipt (corridor.audit.receipt) is a leaf, its index, an RFC 9162 inclusion proof and
// the C2SP signed note of a checkpoint. `verifyReceipt` checks, in this order:
//   1. the receipt's shape (format, lowercase hex, integers);
//   2. the checkpoint note carries a valid Ed25519 signature of the log's key
//      (c2sp.org/signed-note: key hash = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[0:4]);
//   3. its body is a tlog-checkpoint of the log's origin whose size is the receipt's;
//   4. SHA-256(0x00 ‖ leaf) at leaf_index leads through the proof to the checkpoint's root
//      (proof length exact, index below size);
//   5. the leaf decodes (version 1; a transfer, expiry or document) and, if asked, is the
//      expected transfer;
//   6. cosignatures of registered witnesses (c2sp.org/tlog-cosignature, type 0x04, over
//      "cosignature/v1\ntime T\n" ‖ body) are counted against the quorum.
// Failure codes are those of `corridor.audit.receipt.verify_receipt`.

const FORMAT = "corridor-receipt/v1";
const KEYS = ["checkpoint", "format", "inclusion_proof", "leaf", "leaf_index", "tree_size"];
const SIGNATURE_PREFIX = "\u2014 ";
const ALG_ED25519 = 0x01;
const ALG_COSIGNATURE = 0x04;
const PROOF_HASHES_MAX = 64;
const encoder = new TextEncoder();

class Failure extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// -- bytes ----------------------------------------------------------------------------------

export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 || !/^[0-9a-f]*$/.test(text)) {
    throw new Failure("malformed_receipt", "not lowercase hex");
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromBase64(text) {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return null;
  const raw = atob(text);
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// -- Merkle tree (RFC 9162) -----------------------------------------------------------------

export function leafHash(leaf) {
  return sha256(concat(Uint8Array.of(0), leaf));
}

function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** RFC 9162 section 2.1.3.2: does `proof` take `hash` at `index` to `root` of `size`? */
export async function verifyInclusion(hash, index, size, proof, root) {
  if (!(index >= 0 && index < size)) return false;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r = hash;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

// -- signed notes ---------------------------------------------------------------------------

async function keyHash(name, alg, key) {
  const digest = await sha256(concat(encoder.encode(`${name}\n`), Uint8Array.of(alg), key));
  return ((digest[0] << 24) | (digest[1] << 16) | (digest[2] << 8) | digest[3]) >>> 0;
}

/** A C2SP verifier key `<name>+<hex key hash>+<base64(type ‖ public key)>`. */
export async function parseVerifierKey(text, alg) {
  // Names cannot hold "+", base64 can: the name ends at the first "+", the hash is 8 hex.
  const value = String(text).trim();
  const at = value.indexOf("+");
  const name = value.slice(0, at);
  const hashText = value.slice(at + 1, at + 9);
  if (at <= 0 || value[at + 9] !== "+") throw new Failure("bad_key", "a verifier key is name+hash+key");
  const raw = fromBase64(value.slice(at + 10));
  if (!/^[0-9a-f]{8}$/i.test(hashText) || raw === null || raw.length !== 33 || raw[0] !== alg) {
    throw new Failure("bad_key", `not a verifier key of type ${alg}: ${name}`);
  }
  const key = raw.slice(1);
  const hash = await keyHash(name, alg, key);
  if (hash !== parseInt(hashText, 16)) throw new Failure("bad_key", `key hash mismatch for ${name}`);
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
  return { name, hash, cryptoKey };
}

/** Body and signature lines of a signed note. */
export function splitNote(text) {
  const at = text.lastIndexOf("\n\n");
  if (at < 0 || !text.endsWith("\n")) throw new Failure("malformed_checkpoint", "not a signed note");
  const body = text.slice(0, at + 1);
  const signatures = [];
  for (const line of text.slice(at + 2, -1).split("\n")) {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new Failure("malformed_checkpoint", "bad signature line");
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.lastIndexOf(" ");
    const blob = space > 0 ? fromBase64(rest.slice(space + 1)) : null;
    if (blob === null || blob.length < 5) throw new Failure("malformed_checkpoint", "bad signature line");
    const hash = ((blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3]) >>> 0;
    signatures.push({ name: rest.slice(0, space), hash, blob });
  }
  if (!signatures.length) throw new Failure("malformed_checkpoint", "a signed note has signatures");
  return { body, signatures };
}

function ed25519(key, signature, message) {
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

/** Check the log's signature on a checkpoint note; returns the parsed checkpoint body. */
export async function openCheckpoint(noteText, logKey, origin) {
  const note = splitNote(noteText);
  const mine = note.signatures.filter((sig) => sig.name === logKey.name && sig.hash === logKey.hash);
  if (!mine.length) throw new Failure("bad_signature", `the checkpoint is not signed by ${logKey.name}`);
  const body = encoder.encode(note.body);
  for (const sig of mine) {
    if (sig.blob.length !== 4 + 64 || !(await ed25519(logKey.cryptoKey, sig.blob.slice(4), body))) {
      throw new Failure("bad_signature", `the signature of ${logKey.name} does not verify`);
    }
  }
  const lines = note.body.slice(0, -1).split("\n");
  if (lines.length < 3 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
    throw new Failure("malformed_checkpoint", "the checkpoint body is origin, size, root");
  }
  const root = fromBase64(lines[2]);
  if (root === null || root.length !== 32) throw new Failure("malformed_checkpoint", "bad root hash");
  if (origin && lines[0] !== origin) {
    throw new Failure("origin_mismatch", `checkpoint origin ${lines[0]} is not ${origin}`);
  }
  return { origin: lines[0], size: Number(lines[1]), root, body: note.body, signatures: note.signatures };
}

/** Names of the witnesses (parsed keys, type 0x04) whose cosignatures on `checkpoint` verify. */
export async function cosigners(checkpoint, witnessKeys) {
  const names = new Set();
  for (const key of witnessKeys) {
    for (const sig of checkpoint.signatures) {
      if (sig.name !== key.name || sig.hash !== key.hash || sig.blob.length !== 4 + 8 + 64) continue;
      const view = new DataView(sig.blob.buffer, sig.blob.byteOffset + 4, 8);
      const timestamp = view.getBigUint64(0);
      const message = encoder.encode(`cosignature/v1\ntime ${timestamp}\n${checkpoint.body}`);
      if (await ed25519(key.cryptoKey, sig.blob.slice(12), message)) names.add(key.name);
    }
  }
  return [...names].sort();
}

// -- leaves ---------------------------------------------------------------------------------

function id(bytes, at) {
  return toHex(bytes.slice(at, at + 16));
}

/** Decode a leaf (corridor.audit.leaf): transfer, expiry or document. */
export function decodeLeaf(leaf) {
  if (leaf.length < 2 || leaf[0] !== 1) throw new Failure("bad_leaf", "unknown leaf version");
  const view = new DataView(leaf.buffer, leaf.byteOffset, leaf.byteLength);
  if (leaf[1] === 1 && leaf.length === 122) {
    return {
      kind: "transfer",
      fields: {
        id: id(leaf, 2),
        debit_account_id: id(leaf, 18),
        credit_account_id: id(leaf, 34),
        pending_id: id(leaf, 50),
        user_data_128: id(leaf, 66),
        timestamp: view.getBigUint64(82).toString(),
        amount: view.getBigUint64(90).toString(),
        user_data_64: view.getBigUint64(98).toString(),
        user_data_32: view.getUint32(106),
        timeout: view.getUint32(110),
        ledger: view.getUint32(114),
        code: view.getUint16(118),
        flags: view.getUint16(120),
      },
    };
  }
  if (leaf[1] === 2 && leaf.length === 26) {
    return { kind: "expiry", fields: { pending_id: id(leaf, 2), timestamp: view.getBigUint64(18).toString() } };
  }
  if (leaf[1] === 3 && leaf.length === 42) {
    return { kind: "document", fields: { sha256: toHex(leaf.slice(2, 34)), timestamp: view.getBigUint64(34).toString() } };
  }
  throw new Failure("bad_leaf", `malformed leaf of kind ${leaf[1]} and ${leaf.length} bytes`);
}

// -- receipts -------------------------------------------------------------------------------

function parseReceipt(data) {
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new Failure("malformed_receipt", "a receipt is a JSON object");
  }
  const keys = Object.keys(data).sort();
  if (keys.join() !== KEYS.join()) throw new Failure("malformed_receipt", `keys must be ${KEYS.join(", ")}`);
  if (data.format !== FORMAT) throw new Failure("malformed_receipt", `format is not ${FORMAT}`);
  for (const name of ["leaf_index", "tree_size"]) {
    if (!Number.isSafeInteger(data[name]) || data[name] < 0) {
      throw new Failure("malformed_receipt", `${name} must be a non-negative integer`);
    }
  }
  if (!Array.isArray(data.inclusion_proof) || data.inclusion_proof.length > PROOF_HASHES_MAX) {
    throw new Failure("malformed_receipt", "inclusion_proof must be a list of hashes");
  }
  const proof = data.inclusion_proof.map((item) => {
    if (typeof item !== "string" || !/^[0-9a-f]{64}$/.test(item)) {
      throw new Failure("malformed_receipt", "each proof hash is 64 lowercase hex digits");
    }
    return fromHex(item);
  });
  if (typeof data.leaf !== "string" || !data.leaf) throw new Failure("malformed_receipt", "leaf must be hex");
  if (typeof data.checkpoint !== "string") throw new Failure("malformed_receipt", "checkpoint must be text");
  return { leaf: fromHex(data.leaf), index: data.leaf_index, size: data.tree_size, proof, note: data.checkpoint };
}

export function ed25519Supported() {
  return crypto.subtle
    .importKey("raw", new Uint8Array(32), { name: "Ed25519" }, false, ["verify"])
    .then(() => true, () => false);
}

/**
 * Verify a receipt. keys: {logVkey, origin, witnesses: [vkey strings], quorum};
 * transferId: the transfer it must prove (32 hex digits), or null.
 * Resolves to {ok, code, message, checks: [{check, ok}], kind, leaf, size, root, cosigners, witnessed}.
 */
export async function verifyReceipt(data, keys, transferId = null) {
  const checks = [];
  const result = { ok: false, code: null, message: "", checks, kind: null, leaf: null, size: null, root: null, cosigners: [], witnessed: false };
  const pass = (check) => checks.push({ check, ok: true });
  try {
    if (!globalThis.crypto || !crypto.subtle) {
      throw new Failure("unsupported_browser", "WebCrypto is unavailable (the page is not a secure context)");
    }
    if (!(await ed25519Supported())) {
      throw new Failure("unsupported_browser", "this browser's WebCrypto has no Ed25519");
    }
    const receipt = parseReceipt(data);
    pass("well-formed receipt");
    const logKey = await parseVerifierKey(keys.logVkey, ALG_ED25519);
    const checkpoint = await openCheckpoint(receipt.note, logKey, keys.origin);
    pass(`checkpoint signed by ${logKey.name} (Ed25519)`);
    if (checkpoint.size !== receipt.size) {
      throw new Failure("bad_proof", `receipt size ${receipt.size} is not the checkpoint's ${checkpoint.size}`);
    }
    const included = await verifyInclusion(await leafHash(receipt.leaf), receipt.index, receipt.size, receipt.proof, checkpoint.root);
    if (!included) {
      throw new Failure("bad_proof", `the inclusion proof does not lead from leaf ${receipt.index} to the root of size ${checkpoint.size}`);
    }
    pass(`leaf ${receipt.index} included in the tree of size ${checkpoint.size} (${receipt.proof.length} proof hashes)`);
    const decoded = decodeLeaf(receipt.leaf);
    pass(`leaf decodes as a ${decoded.kind}`);
    if (transferId && decoded.fields.id !== transferId) {
      throw new Failure("receipt_mismatch", `the receipt proves ${decoded.fields.id ?? decoded.kind}, not transfer ${transferId}`);
    }
    if (transferId) pass(`leaf is transfer ${transferId}`);
    const witnessKeys = [];
    for (const vkey of keys.witnesses || []) witnessKeys.push(await parseVerifierKey(vkey, ALG_COSIGNATURE));
    const names = await cosigners(checkpoint, witnessKeys);
    Object.assign(result, {
      ok: true,
      message: `${decoded.kind} at index ${receipt.index} is in the log of ${checkpoint.origin} at size ${checkpoint.size}`,
      kind: decoded.kind,
      leaf: decoded.fields,
      size: checkpoint.size,
      root: toBase64(checkpoint.root),
      cosigners: names,
      witnessed: witnessKeys.length > 0 && names.length >= (keys.quorum ?? 1),
    });
  } catch (error) {
    result.ok = false;
    result.code = error.code || "verification_error";
    result.message = error.message;
  }
  return result;
}
