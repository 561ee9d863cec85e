/* Shared page behaviour: copy buttons, and the CSRF-aware JSON poster other scripts use. */
(function () {
  "use strict";
  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  window.PalisadePortal = {
    postJSON: async function (url, body) {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
      let payload = null;
      try { payload = await response.json(); } catch (e) { payload = null; }
      if (!response.ok) {
        const message = payload && (payload.message || payload.error) || response.statusText;
        throw new Error(response.status + ": " + message);
      }
      return payload;
    },
    cell: function (row, text, className) {
      const td = document.createElement("td");
      td.textContent = text === null || text === undefined ? "" : String(text);
      if (className) td.className = className;
      row.appendChild(td);
      return td;
    },
  };
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest(".copy-button");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.value !== undefined ? source.value : source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; }, function () {});
    } else if (source.select) {
      source.select();
    }
  });
})();
