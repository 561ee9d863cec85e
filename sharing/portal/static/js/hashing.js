/*
 * Palisade identifier spec v1 in the browser: normalise, hash (HMAC-SHA256 with WebCrypto),
 * IP covering prefixes and the prompt MinHash signature. A port of sharing/identifiers/
 * (the reference); schemas/test-vectors.json pins both down and tests/portal runs every
 * vector through this file in Chromium. The consortium key and the raw values never leave
 * the page: nothing here talks to the network.
 *
 * Needs: spec-tables.js (casefold table, whitespace, IP warning list) and, for phones,
 * vendor/libphonenumber-max.js. Exposes window.PalisadeHash.
 */
(function () {
  "use strict";
  const T = window.PalisadeSpecTables;
  const KINDS = ["email", "phone", "payment", "handle", "device", "ip", "prompt"];
  const MAX_VALUE_LENGTH = 4096;
  const MAX_PROMPT_LENGTH = 100000;
  const KEY_ID_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;
  const KEYFILE_FORMAT = "palisade-consortium-key/1";
  const WS = new Set(Array.from(T.whitespace));
  const WS_RUN = new RegExp("[" + Array.from(T.whitespace).map(function (c) {
    return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
  }).join("") + "]+", "gu");
  const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
  const PLATFORM_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
  const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  const WORD = /[\p{L}\p{M}\p{N}]+/gu;
  const enc = new TextEncoder();

  class InvalidIdentifier extends Error {
    constructor(kind, reason) {
      super(kind + ": " + reason);
      this.kind = kind;
      this.reason = reason;
    }
  }

  function cpLength(s) { let n = 0; for (const _ of s) n++; return n; } // eslint-disable-line no-unused-vars

  function strip(value, set) {
    const chars = Array.from(value);
    let a = 0, b = chars.length;
    while (a < b && set.has(chars[a])) a++;
    while (b > a && set.has(chars[b - 1])) b--;
    return chars.slice(a, b).join("");
  }

  function trim(kind, raw, limit) {
    if (typeof raw !== "string") throw new InvalidIdentifier(kind, "not a string");
    const value = strip(raw, WS);
    if (!value) throw new InvalidIdentifier(kind, "empty " + kind);
    if (cpLength(value) > (limit || MAX_VALUE_LENGTH)) throw new InvalidIdentifier(kind, "too long");
    return value;
  }

  function noControls(kind, value) {
    if (CONTROL.test(value)) throw new InvalidIdentifier(kind, "contains control characters");
    return value;
  }

  // ---- email ------------------------------------------------------------------------------
  // Domains go through the WHATWG URL parser, which applies UTS 46 non-transitional processing
  // like the reference's `idna.encode(uts46=True, transitional=False)`; IDNA 2008's stricter
  // label rules (LDH, hyphens, length) are then checked on the result, as `idna` does.
  function emailDomain(domain) {
    const bad = new InvalidIdentifier("email", "invalid email domain");
    if (domain.endsWith(".")) domain = domain.slice(0, -1);
    let trailing = "";
    if (domain.endsWith(".")) { domain = domain.slice(0, -1); trailing = "."; }
    if (!domain || /[\s/?#\\:@[\]%<>^|"'`{}]/u.test(domain)) throw bad;
    let host;
    try {
      // A final label that is not a number keeps the parser from reading IPv4 forms.
      host = new URL("http://" + domain + ".palisade-idna/").hostname;
    } catch (e) { throw bad; }
    if (!host.endsWith(".palisade-idna")) throw bad;
    host = host.slice(0, -".palisade-idna".length);
    const labels = host.split(".");
    for (const label of labels) {
      if (label.length > 63) throw bad;
      if (label.startsWith("xn--")) { if (!/^xn--[a-z0-9-]+$/.test(label) || label.endsWith("-")) throw bad; continue; }
      if (!LDH_LABEL.test(label) || label.slice(2, 4) === "--") throw bad;
    }
    const ascii = host + trailing;
    if (ascii.indexOf(".") < 0 || ascii.length > 253) throw bad;
    return ascii;
  }

  function email(raw) {
    const value = trim("email", raw).toLowerCase();
    noControls("email", value);
    const at = value.lastIndexOf("@");
    let local = at >= 0 ? value.slice(0, at) : "";
    let domain = at >= 0 ? value.slice(at + 1) : "";
    WS_RUN.lastIndex = 0;
    if (at < 0 || !local || !domain || local.indexOf("@") >= 0 || new RegExp(WS_RUN.source, "u").test(local)) {
      throw new InvalidIdentifier("email", "invalid email");
    }
    local = local.split("+", 1)[0];
    if (!local) throw new InvalidIdentifier("email", "empty local part");
    domain = emailDomain(domain);
    if (domain === "gmail.com" || domain === "googlemail.com") {
      local = local.replace(/\./g, "");
      domain = "gmail.com";
      if (!local) throw new InvalidIdentifier("email", "empty local part");
    }
    if (cpLength(local) > 64) throw new InvalidIdentifier("email", "local part too long");
    return local + "@" + domain;
  }

  // ---- phone (libphonenumber-js, "max" metadata: full validation like `phonenumbers`) ------
  function phone(raw, region) {
    const value = trim("phone", raw, 64);
    const lib = window.libphonenumber;
    if (!lib) throw new InvalidIdentifier("phone", "phone support is not loaded");
    let number;
    try {
      number = lib.parsePhoneNumberWithError(value, { defaultCountry: region || "US" });
    } catch (e) {
      const short = e && /TOO_SHORT|TOO_LONG/.test(e.message || "");
      throw new InvalidIdentifier("phone", short ? "invalid phone number" : "unparseable phone");
    }
    if (!number || !number.isValid()) throw new InvalidIdentifier("phone", "invalid phone number");
    return number.number;
  }

  function opaque(kind, raw) { return noControls(kind, trim(kind, raw).toLowerCase()); }

  function handle(raw) {
    const value = noControls("handle", trim("handle", raw).toLowerCase());
    const i = value.indexOf(":");
    if (i < 0) throw new InvalidIdentifier("handle", "expected platform:username");
    const platform = strip(value.slice(0, i), WS);
    const username = strip(value.slice(i + 1), WS);
    if (!platform) throw new InvalidIdentifier("handle", "empty platform");
    if (!username) throw new InvalidIdentifier("handle", "empty username");
    if (!PLATFORM_RE.test(platform)) throw new InvalidIdentifier("handle", "invalid platform");
    return platform + ":" + username;
  }

  // ---- IP (Python `ipaddress` semantics, strict=False) ---------------------------------------
  function ipError(hasSlash) { return new InvalidIdentifier("ip", hasSlash ? "bad CIDR" : "bad IP address"); }
  const DIGITS = /^[0-9]+$/;

  function parseV4(text) {
    const parts = text.split(".");
    if (parts.length !== 4) return null;
    let n = 0n;
    for (const p of parts) {
      if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return null;
      const v = Number(p);
      if (v > 255) return null;
      n = (n << 8n) | BigInt(v);
    }
    return n;
  }

  function parseV6(text) {
    if (!text || text.indexOf("%") >= 0) return null;
    let parts = text.split(":");
    if (parts.length < 3) return null;
    let tail = [];
    const last = parts[parts.length - 1];
    if (last.indexOf(".") >= 0) {
      const v4 = parseV4(last);
      if (v4 === null) return null;
      parts = parts.slice(0, -1);
      tail = [Number((v4 >> 16n) & 0xffffn), Number(v4 & 0xffffn)];
      parts.push("__v4__");
    }
    const maxParts = 8 + 1;
    if (parts.length > maxParts) return null;
    let skip = -1;
    for (let i = 1; i < parts.length - 1; i++) {
      if (parts[i] === "") { if (skip >= 0) return null; skip = i; }
    }
    let head, back;
    if (skip >= 0) {
      head = parts.slice(0, skip); back = parts.slice(skip + 1);
      if (head.length === 1 && head[0] === "") head = [];
      else if (head[0] === "") return null;
      if (back.length === 1 && back[0] === "") back = [];
      else if (back.length && back[back.length - 1] === "") return null;
    } else {
      if (parts[0] === "" || parts[parts.length - 1] === "") return null;
      head = parts; back = [];
    }
    const expand = function (list) {
      const out = [];
      for (const p of list) {
        if (p === "__v4__") { out.push(tail[0], tail[1]); continue; }
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return null;
        out.push(parseInt(p, 16));
      }
      return out;
    };
    const h = expand(head), b = expand(back);
    if (h === null || b === null) return null;
    let words;
    if (skip >= 0) {
      const missing = 8 - h.length - b.length;
      if (missing < 1) return null;
      words = h.concat(new Array(missing).fill(0), b);
    } else {
      if (h.length !== 8) return null;
      words = h;
    }
    let n = 0n;
    for (const w of words) n = (n << 16n) | BigInt(w);
    return n;
  }

  function maskPrefix(n, bits) {  // a netmask or hostmask as a prefix length, else null
    for (let len = 0; len <= bits; len++) {
      const ones = ((1n << BigInt(len)) - 1n) << BigInt(bits - len);
      if (n === ones) return len;
    }
    for (let len = 0; len <= bits; len++) {
      const host = (1n << BigInt(bits - len)) - 1n;
      if (n === host) return len;
    }
    return null;
  }

  function parseNetwork(value) {
    const hasSlash = value.indexOf("/") >= 0;
    if (value.indexOf("%") >= 0) throw ipError(false);
    const pieces = value.split("/");
    if (pieces.length > 2) throw ipError(hasSlash);
    const addr = pieces[0], pre = pieces[1];
    let version = 4, n = parseV4(addr), bits = 32;
    if (n === null) { version = 6; n = parseV6(addr); bits = 128; }
    if (n === null) throw ipError(hasSlash);
    let len = bits;
    if (pre !== undefined) {
      if (DIGITS.test(pre)) {
        len = Number(pre);
        if (len > bits) throw ipError(true);
      } else if (version === 4) {
        const m = parseV4(pre);
        len = m === null ? null : maskPrefix(m, 32);
        if (len === null) throw ipError(true);
      } else {
        throw ipError(true);
      }
    }
    const size = BigInt(bits);
    const mask = ((1n << BigInt(len)) - 1n) << (size - BigInt(len));
    n = n & mask;
    if (version === 6 && len >= 96 && (n >> 32n) === 0xffffn) {
      return { version: 4, n: n & 0xffffffffn, len: len - 96 };
    }
    return { version: version, n: n, len: len };
  }

  function v4String(n) {
    return [24n, 16n, 8n, 0n].map(function (s) { return String((n >> s) & 0xffn); }).join(".");
  }

  function v6String(n) {
    const words = [];
    for (let i = 7; i >= 0; i--) words.push(Number((n >> BigInt(16 * i)) & 0xffffn));
    let bestStart = -1, bestLen = 0, start = -1;
    for (let i = 0; i <= 8; i++) {
      if (i < 8 && words[i] === 0) { if (start < 0) start = i; }
      else if (start >= 0) {
        if (i - start > bestLen) { bestStart = start; bestLen = i - start; }
        start = -1;
      }
    }
    const hex = words.map(function (w) { return w.toString(16); });
    if (bestLen > 1) {
      const left = hex.slice(0, bestStart).join(":"), right = hex.slice(bestStart + bestLen).join(":");
      return left + "::" + right;
    }
    return hex.join(":");
  }

  function networkString(net) {
    return (net.version === 4 ? v4String(net.n) : v6String(net.n)) + "/" + net.len;
  }

  function ipNetwork(raw) { return parseNetwork(trim("ip", raw, 64)); }
  function ip(raw) { return networkString(ipNetwork(raw)); }

  function coveringPrefixes(address) {
    const net = ipNetwork(address);
    const ladder = net.version === 4 ? T.ipv4_prefix_lengths : T.ipv6_prefix_lengths;
    const bits = BigInt(net.version === 4 ? 32 : 128);
    const out = [];
    for (const len of ladder) {
      if (len <= net.len) {
        const mask = ((1n << BigInt(len)) - 1n) << (bits - BigInt(len));
        out.push(networkString({ version: net.version, n: net.n & mask, len: len }));
      }
    }
    return out;
  }

  function overlaps(a, b) {
    if (a.version !== b.version) return false;
    const bits = BigInt(a.version === 4 ? 32 : 128);
    const len = BigInt(Math.min(a.len, b.len));
    const mask = ((1n << len) - 1n) << (bits - len);
    return (a.n & mask) === (b.n & mask);
  }

  function warningFor(raw) {
    let net;
    try { net = ipNetwork(raw); } catch (e) { return e.reason || "bad IP address"; }
    for (const pair of T.special_ranges) {
      const cand = parseNetwork(pair[0]);
      if (overlaps(net, cand)) return pair[1] + " range " + pair[0];
    }
    if (net.version === 6) {
      const global = parseNetwork("2000::/3");
      if (!(net.len >= 3 && overlaps(net, global))) return "reserved (outside global unicast 2000::/3)";
    }
    const broadest = net.version === 4 ? T.ipv4_broadest : T.ipv6_broadest;
    if (net.len < broadest) return "range broader than /" + broadest;
    for (const resolver of T.public_resolvers) {
      const r = parseNetwork(resolver);
      if (r.version === net.version && overlaps(net, r) && net.len <= r.len) return "contains well-known public resolver " + resolver;
    }
    if (net.version === 6 && net.len % 4) return "IPv6 prefix length not a multiple of 4 (never matched by prefix expansion)";
    return null;
  }

  // ---- prompt -----------------------------------------------------------------------------
  function casefold(text) {
    let out = "";
    for (const ch of text) {
      const f = T.casefold[ch.codePointAt(0).toString(16)];
      out += f === undefined ? ch : f;
    }
    return out;
  }

  function prompt(raw) {
    if (typeof raw !== "string") throw new InvalidIdentifier("prompt", "not a string");
    if (cpLength(raw) > MAX_PROMPT_LENGTH * 2) throw new InvalidIdentifier("prompt", "too long");
    let text = casefold(raw.normalize("NFKC")).normalize("NFKC");
    text = text.replace(WS_RUN, " ");
    text = text.replace(/^ +| +$/g, "");
    if (!text) throw new InvalidIdentifier("prompt", "empty prompt");
    if (cpLength(text) > MAX_PROMPT_LENGTH) throw new InvalidIdentifier("prompt", "too long");
    return text;
  }

  function normalise(kind, raw, options) {
    const opts = options || {};
    switch (kind) {
      case "email": return email(raw);
      case "phone": return phone(raw, opts.defaultRegion);
      case "payment": case "device": return opaque(kind, raw);
      case "handle": return handle(raw);
      case "ip": return ip(raw);
      case "prompt": return prompt(raw);
      default: throw new InvalidIdentifier(String(kind), "unknown kind (expected one of " + KINDS.join(", ") + ")");
    }
  }

  // ---- keys and HMAC ----------------------------------------------------------------------
  function b64decode(text) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) throw new Error("secret is not base64");
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function b64encode(bytes) {
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }

  function hex(bytes) {
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  /** Parse a palisade-consortium-key/1 file; returns {current, keys} with raw secrets. */
  function loadKeyring(text) {
    let data;
    try { data = JSON.parse(text); } catch (e) { throw new Error("the key file is not JSON"); }
    if (!data || data.format !== KEYFILE_FORMAT) throw new Error("not a " + KEYFILE_FORMAT + " key file");
    if (!Array.isArray(data.keys) || !data.keys.length) throw new Error("key file has no keys");
    const keys = data.keys.map(function (k) {
      if (!k || typeof k.secret !== "string" || !KEY_ID_RE.test(k.id || "")) throw new Error("malformed key entry");
      const secret = b64decode(k.secret);
      if (secret.length !== 32) throw new Error("key " + k.id + ": secret must be 32 bytes");
      return { id: k.id, secret: secret };
    });
    const current = keys.find(function (k) { return k.id === data.current; });
    if (!current) throw new Error("current key is not in the keyring");
    return { current: current, keys: keys };
  }

  const cryptoKeys = new WeakMap();
  async function hmacKey(secret) {
    let k = cryptoKeys.get(secret);
    if (!k) {
      k = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      cryptoKeys.set(secret, k);
    }
    return k;
  }

  async function hmac(secret, bytes) {
    return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), bytes));
  }

  function concat(a, b) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0); out.set(b, a.length);
    return out;
  }

  async function hashValue(key, kind, normalised) {
    if (KINDS.indexOf(kind) < 0) throw new InvalidIdentifier(String(kind), "unknown kind");
    const msg = concat(enc.encode(kind + "\u001f"), enc.encode(normalised));
    return "hmac-sha256:" + key.id + ":" + hex(await hmac(key.secret, msg));
  }

  async function hashIdentifier(key, kind, raw, options) {
    return hashValue(key, kind, normalise(kind, raw, options));
  }

  async function hashPrefixes(key, address) {
    const out = [];
    for (const p of coveringPrefixes(address)) out.push(await hashValue(key, "ip", p));
    return out;
  }

  // ---- prompt MinHash (palisade-minhash-v1, docs/PROMPT_SIGNATURES.md) ---------------------
  const P = (1n << 61n) - 1n;
  const MASK32 = 0xffffffffn;
  const derived = new WeakMap();

  function u64(bytes, offset) {
    let n = 0n;
    for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(bytes[offset + i]);
    return n;
  }

  async function minhashParams(secret) {
    let d = derived.get(secret);
    if (!d) {
      const kp = await hmac(secret, enc.encode("palisade-minhash-v1"));
      const perms = [];
      for (let i = 0; i < 128; i++) {
        const label = new Uint8Array([112, 101, 114, 109, (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255]);
        const di = await hmac(kp, label);
        perms.push([u64(di, 0) % (P - 1n) + 1n, u64(di, 8) % P]);
      }
      d = { kp: kp, perms: perms };
      derived.set(secret, d);
    }
    return d;
  }

  function promptTokens(normalised) { return normalised.match(WORD) || []; }

  function promptShingles(text) {
    const normalised = prompt(text);
    const tokens = promptTokens(normalised);
    const shingles = tokens.length ? tokens : [normalised];
    return Array.from(new Set(shingles));
  }

  async function promptSignature(key, text) {
    const params = await minhashParams(key.secret);
    const xs = [];
    for (const s of promptShingles(text)) xs.push(u64(await hmac(params.kp, enc.encode(s)), 0));
    const values = params.perms.map(function (ab) {
      let best = null;
      for (const x of xs) {
        const v = ((ab[0] * x + ab[1]) % P) & MASK32;
        if (best === null || v < best) best = v;
      }
      return Number(best);
    });
    return { scheme: "palisade-minhash-v1", key_id: key.id, values: values, minhash: encodeSignature(values) };
  }

  function encodeSignature(values) {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach(function (v, i) { view.setUint32(i * 4, v, false); });
    return b64encode(bytes);
  }

  async function lshBandHashes(values) {
    const out = [];
    for (let j = 0; j < 20; j++) {
      const buf = new Uint8Array(2 + 24);
      const view = new DataView(buf.buffer);
      view.setUint16(0, j, false);
      for (let r = 0; r < 6; r++) view.setUint32(2 + 4 * r, values[6 * j + r], false);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
      out.push(u64(digest, 0) >> 1n);
    }
    return out;
  }

  function buildPattern(kind, value) {
    return "[hashed-identifier:kind = '" + kind + "' AND hashed-identifier:value = '" + value + "']";
  }

  window.PalisadeHash = {
    KINDS: KINDS,
    InvalidIdentifier: InvalidIdentifier,
    normalise: normalise,
    loadKeyring: loadKeyring,
    hashValue: hashValue,
    hashIdentifier: hashIdentifier,
    coveringPrefixes: coveringPrefixes,
    hashPrefixes: hashPrefixes,
    warningFor: warningFor,
    casefold: casefold,
    promptTokens: promptTokens,
    promptShingles: promptShingles,
    promptSignature: promptSignature,
    minhashKeyHex: async function (key) { return hex((await minhashParams(key.secret)).kp); },
    minhashPerm: async function (key, i) { const p = (await minhashParams(key.secret)).perms[i]; return { a: p[0], b: p[1] }; },
    encodeSignature: encodeSignature,
    lshBandHashes: lshBandHashes,
    buildPattern: buildPattern,
  };
})();
