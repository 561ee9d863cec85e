/* Loads the consortium key file chosen in #key-file into memory (never uploaded). */
(function () {
  "use strict";
  window.PalisadeKey = { keyring: null };
  function status(text, ok) {
    const el = document.getElementById("key-status");
    if (el) { el.textContent = text; el.className = ok ? "ok" : "error"; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    const input = document.getElementById("key-file");
    if (!input) return;
    input.addEventListener("change", function () {
      const file = input.files && input.files[0];
      window.PalisadeKey.keyring = null;
      if (!file) { status("No key loaded.", false); return; }
      file.text().then(function (text) {
        try {
          const ring = window.PalisadeHash.loadKeyring(text);
          window.PalisadeKey.keyring = ring;
          status("Key " + ring.current.id + " loaded (in this page only).", true);
          document.dispatchEvent(new CustomEvent("palisade:key"));
        } catch (e) { status("Not usable: " + e.message, false); }
      });
    });
  });
})();
