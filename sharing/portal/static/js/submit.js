/*
 * Submit page, spreadsheet path: parse the CSV, normalise and hash every row in this page,
 * show a preview of exactly what will be sent (hashes only) with per-row problems, then post
 * one STIX bundle. Raw values and the consortium key never leave the browser.
 */
(function () {
  "use strict";
  const H = () => window.PalisadeHash;
  const T = () => window.PalisadeSpecTables;
  let pending = null;

  function parseCSV(text) {
    const rows = [];
    let row = [], field = "", quoted = false, i = 0;
    text = text.replace(/^\ufeff/, "");
    while (i < text.length) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
        if (c === '"') { quoted = false; i++; continue; }
        field += c; i++; continue;
      }
      if (c === '"' && field === "") { quoted = true; i++; continue; }
      if (c === ",") { row.push(field); field = ""; i++; continue; }
      if (c === "\r" && text[i + 1] === "\n") { i++; continue; }
      if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; i++; continue; }
      field += c; i++;
    }
    if (field !== "" || row.length) { row.push(field); rows.push(row); }
    return rows.filter(function (r) { return r.some(function (f) { return f.trim() !== ""; }); });
  }

  function uuid() { return crypto.randomUUID(); }

  function options() {
    return {
      tlp: document.getElementById("opt-tlp").value,
      group: document.getElementById("opt-group").value,
      confidence: parseInt(document.getElementById("opt-confidence").value, 10),
      campaign: document.getElementById("opt-campaign").value.trim(),
      region: document.getElementById("opt-region").value.trim().toUpperCase() || "US",
      anonymous: document.getElementById("opt-anonymous").checked,
      force: document.getElementById("opt-force").checked,
    };
  }

  async function csvText() {
    const file = document.getElementById("csv-file").files[0];
    if (file) return file.text();
    return document.getElementById("csv-text").value;
  }

  async function buildRow(key, opts, header, cells, now) {
    const get = function (name) { const i = header.indexOf(name); return i >= 0 ? (cells[i] || "") : ""; };
    const kind = get("kind").trim().toLowerCase();
    const raw = get("value");
    const normalised = H().normalise(kind, raw, { defaultRegion: opts.region });
    if (kind === "ip" && !opts.force) {
      const warning = H().warningFor(normalised);
      if (warning) throw new Error("refused: " + warning + " (tick the box to submit anyway)");
    }
    const value = await H().hashValue(key, kind, normalised);
    let confidence = opts.confidence;
    const given = get("confidence").trim();
    if (given) {
      confidence = Number(given);
      if (!Number.isInteger(confidence) || confidence < 0 || confidence > 100) throw new Error("confidence must be 0-100");
    }
    const obj = {
      type: "indicator", spec_version: "2.1", id: "indicator--" + uuid(),
      created: now, modified: now, valid_from: now,
      name: kind + " seen in a distillation campaign",
      pattern: H().buildPattern(kind, value), pattern_type: "stix",
      object_marking_refs: [T().tlp_marking_ids[opts.tlp]],
    };
    if (Number.isInteger(confidence)) obj.confidence = confidence;
    const until = get("valid_until").trim();
    if (until) {
      const when = new Date(until);
      if (isNaN(when.getTime())) throw new Error("valid_until is not a date");
      obj.valid_until = when.toISOString();
    }
    const extensions = {};
    if (opts.group || opts.anonymous) {
      const ext = { extension_type: "property-extension", anonymous: opts.anonymous };
      if (opts.group) ext.sharing_group = opts.group;
      extensions[T().report_extension_id] = ext;
    }
    if (kind === "prompt") {
      const sig = await H().promptSignature(key, raw);
      extensions[T().prompt_signature_extension_id] = {
        extension_type: "property-extension", scheme: sig.scheme, minhash: sig.minhash, key_id: sig.key_id,
      };
    }
    if (Object.keys(extensions).length) obj.extensions = extensions;
    return { obj: obj, kind: kind, hash: value };
  }

  function marking(obj, opts) {
    obj.object_marking_refs = [T().tlp_marking_ids[opts.tlp]];
    if (opts.group || opts.anonymous) {
      const ext = { extension_type: "property-extension", anonymous: opts.anonymous };
      if (opts.group) ext.sharing_group = opts.group;
      obj.extensions = {}; obj.extensions[T().report_extension_id] = ext;
    }
    return obj;
  }

  async function hashAll() {
    const summary = document.getElementById("csv-summary");
    const table = document.getElementById("preview");
    const body = table.querySelector("tbody");
    const send = document.getElementById("send-button");
    send.disabled = true; pending = null;
    document.getElementById("submit-result").textContent = "";
    const ring = window.PalisadeKey.keyring;
    if (!ring) { summary.textContent = "Load the consortium key file first."; return; }
    const rows = parseCSV(await csvText());
    if (rows.length < 2) { summary.textContent = "The CSV needs a header row (kind,value) and at least one row."; return; }
    const header = rows[0].map(function (h) { return h.trim().toLowerCase(); });
    if (header.indexOf("kind") < 0 || header.indexOf("value") < 0) { summary.textContent = "The header row must name the columns kind and value."; return; }
    const opts = options();
    if (opts.tlp === "red" && !opts.group) { summary.textContent = "TLP:RED needs a sharing group."; return; }
    const now = new Date().toISOString();
    const objects = [];
    let errors = 0;
    body.textContent = "";
    for (let i = 1; i < rows.length; i++) {
      const tr = document.createElement("tr");
      const P = window.PalisadePortal;
      P.cell(tr, i + 1);
      try {
        const built = await buildRow(ring.current, opts, header, rows[i], now);
        objects.push(built.obj);
        P.cell(tr, built.kind);
        const td = P.cell(tr, ""); const code = document.createElement("code"); code.textContent = built.hash; td.appendChild(code);
        P.cell(tr, "");
      } catch (e) {
        errors++;
        tr.className = "row-error";
        P.cell(tr, (rows[i][header.indexOf("kind")] || "").trim());
        P.cell(tr, "—");
        P.cell(tr, e.reason || e.message, "error");
      }
      body.appendChild(tr);
    }
    if (opts.campaign && objects.length) {
      const campaign = marking({ type: "campaign", spec_version: "2.1", id: "campaign--" + uuid(), created: now, modified: now, name: opts.campaign }, opts);
      const links = objects.map(function (o) {
        return marking({ type: "relationship", spec_version: "2.1", id: "relationship--" + uuid(), created: now, modified: now,
          relationship_type: "indicates", source_ref: o.id, target_ref: campaign.id }, opts);
      });
      objects.push(campaign); Array.prototype.push.apply(objects, links);
    }
    table.hidden = false;
    const indicators = objects.filter(function (o) { return o.type === "indicator"; }).length;
    summary.textContent = indicators + " rows hashed, " + errors + " with problems (not sent).";
    if (indicators) {
      pending = { type: "bundle", id: "bundle--" + uuid(), objects: objects };
      send.disabled = false;
      send.textContent = "Submit " + indicators + " hashed indicators";
    }
  }

  async function sendBundle() {
    const out = document.getElementById("submit-result");
    const send = document.getElementById("send-button");
    if (!pending) return;
    send.disabled = true;
    out.textContent = "Sending…";
    try {
      const url = document.getElementById("submit-actions").dataset.endpoint;
      const status = await window.PalisadePortal.postJSON(url, pending);
      out.textContent = "";
      const p = document.createElement("p");
      p.id = "submit-accepted";
      p.textContent = status.success_count + " of " + status.total_count + " objects accepted, " + status.failure_count + " refused.";
      out.appendChild(p);
      if (status.failures && status.failures.length) {
        const ul = document.createElement("ul");
        status.failures.forEach(function (f) { const li = document.createElement("li"); li.textContent = f.id + ": " + f.message; ul.appendChild(li); });
        out.appendChild(ul);
      }
      pending = null;
    } catch (e) {
      out.textContent = "Refused: " + e.message;
      send.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const hash = document.getElementById("hash-button");
    if (!hash) return;
    hash.addEventListener("click", function () { hashAll().catch(function (e) { document.getElementById("csv-summary").textContent = "Error: " + e.message; }); });
    document.getElementById("send-button").addEventListener("click", sendBundle);
  });
  window.PalisadeSubmit = { parseCSV: parseCSV };
})();
