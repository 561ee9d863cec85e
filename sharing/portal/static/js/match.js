/* Match page: hash pasted values here (raw values stay in the page), ask the exchange, show a table. */
(function () {
  "use strict";
  const H = () => window.PalisadeHash;

  async function item(key, kind, raw, region) {
    const normalised = H().normalise(kind, raw, { defaultRegion: region });
    if (kind === "ip") return { kind: "ip", prefixes: await H().hashPrefixes(key, normalised) };
    const value = await H().hashValue(key, kind, normalised);
    if (kind === "prompt") {
      const sig = await H().promptSignature(key, raw);
      return { kind: "prompt", value: value, minhash: sig.minhash };
    }
    return { kind: kind, value: value };
  }

  function row(body, raw, matched, m, detail) {
    const P = window.PalisadePortal;
    const tr = document.createElement("tr");
    P.cell(tr, raw);
    P.cell(tr, matched, matched === "yes" ? "hit" : matched === "no" ? "" : "error");
    if (m) {
      const td = P.cell(tr, "");
      const a = document.createElement("a");
      a.href = detail + encodeURIComponent(m.indicator_id);
      a.textContent = m.indicator_id.slice(11, 19) + "…";
      td.appendChild(a);
      P.cell(tr, m.reporter_count + " (" + (m.reporters || []).join(", ") + ")");
      P.cell(tr, m.score + (m.disputed ? " (disputed)" : ""));
      P.cell(tr, "TLP:" + m.tlp.toUpperCase());
      P.cell(tr, (m.campaigns || []).join(", ") || "—");
      P.cell(tr, m.similarity);
    } else {
      for (let i = 0; i < 6; i++) P.cell(tr, "");
    }
    body.appendChild(tr);
  }

  async function run() {
    const summary = document.getElementById("match-summary");
    const table = document.getElementById("match-results");
    const body = table.querySelector("tbody");
    const ring = window.PalisadeKey.keyring;
    if (!ring) { summary.textContent = "Load the consortium key file first."; return; }
    const kind = document.getElementById("match-kind").value;
    const region = document.getElementById("match-region").value.trim().toUpperCase() || "US";
    const similarity = Number(document.getElementById("match-similarity").value) || 0.8;
    const lines = document.getElementById("match-values").value.split(/\r?\n/).filter(function (l) { return l.trim() !== ""; });
    if (!lines.length) { summary.textContent = "Paste at least one value."; return; }
    const items = [], sent = [], invalid = [];
    for (const raw of lines) {
      try { items.push(await item(ring.current, kind, raw, region)); sent.push(raw); }
      catch (e) { invalid.push([raw, e.reason || e.message]); }
    }
    body.textContent = "";
    let answer = { results: [], matched_count: 0 };
    if (items.length) answer = await window.PalisadePortal.postJSON(table.dataset.endpoint, { items: items, min_similarity: similarity });
    answer.results.forEach(function (result, i) {
      if (!result.matched) { row(body, sent[i], "no", null); return; }
      result.matches.forEach(function (m) { row(body, sent[i], "yes", m, table.dataset.detail); });
    });
    invalid.forEach(function (pair) { row(body, pair[0], "invalid: " + pair[1], null); });
    table.hidden = false;
    summary.textContent = answer.matched_count + " of " + sent.length + " values matched" + (invalid.length ? "; " + invalid.length + " could not be hashed." : ".");
  }

  document.addEventListener("DOMContentLoaded", function () {
    const button = document.getElementById("match-button");
    if (!button) return;
    button.addEventListener("click", function () {
      run().catch(function (e) { document.getElementById("match-summary").textContent = "Error: " + e.message; });
    });
  });
})();
