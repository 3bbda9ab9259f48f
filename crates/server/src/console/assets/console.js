// dbcloud console: progressive enhancement only — every page works without this script.
// Copy and Download of one-time secrets, typed-name confirmations, leaving secret pages
// on reload, and live operation progress on a cluster's page.
"use strict";

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "sr-only";
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function setupCopy() {
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", () => {
      const source = document.getElementById(button.dataset.copy);
      const status = button.parentElement.querySelector(".copied");
      copyText(source.textContent.trim()).then(
        () => { if (status) status.textContent = "Copied"; },
        () => { if (status) status.textContent = "Select the text and copy it"; }
      );
    });
  });
}

function setupDownload() {
  document.querySelectorAll("[data-download]").forEach((button) => {
    button.addEventListener("click", () => {
      const lines = button.dataset.download.split(",").map((id) => {
        const el = document.getElementById(id);
        return id + ": " + (el ? el.textContent.trim() : "");
      });
      const blob = new Blob([lines.join("\n") + "\n"], { type: "text/plain" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = button.dataset.filename || "dbcloud-api-key.txt";
      document.body.appendChild(link);
      link.click();
      setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    });
  });
}

function setupConfirm() {
  document.querySelectorAll("input[data-confirm]").forEach((input) => {
    const button = input.form && input.form.querySelector("button[type=submit]");
    if (!button) return;
    const check = () => { button.disabled = input.value !== input.dataset.confirm; };
    input.addEventListener("input", check);
    check();
  });
}

// A page that shows a secret once: a reload (or Back) leads to the list, never to the secret.
function setupSecretPages() {
  const panel = document.querySelector("[data-replace-url]");
  if (panel && window.history && history.replaceState) {
    history.replaceState(null, "", panel.dataset.replaceUrl);
  }
}

function setupBack() {
  document.querySelectorAll("[data-back]").forEach((a) => {
    a.addEventListener("click", (e) => {
      if (history.length > 1) { e.preventDefault(); history.back(); }
    });
  });
}

// Live progress: while an operation runs, poll the cluster's status, move the progress
// bars, and reload once it settles (or a new operation or state appears).
function setupPolling() {
  const live = document.querySelector("[data-poll]");
  if (!live || live.dataset.busy !== "1") return;
  const running = (o) => o.status === "SENT" || o.status === "IN_PROGRESS";
  const tick = () => {
    fetch(live.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((s) => {
        let known = true;
        s.operations.forEach((o) => {
          const row = live.querySelector('tr[data-op="' + o.id + '"]');
          if (!row) { known = false; return; }
          const bar = row.querySelector(".op-progress");
          if (bar) bar.value = o.progress;
          const pct = row.querySelector(".op-pct");
          if (pct) pct.textContent = o.progress + "%";
        });
        if (!known || s.state !== live.dataset.state || !s.operations.some(running)) {
          window.location.reload();
        } else {
          setTimeout(tick, 1000);
        }
      })
      .catch(() => setTimeout(tick, 5000));
  };
  setTimeout(tick, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  setupCopy();
  setupDownload();
  setupConfirm();
  setupSecretPages();
  setupBack();
  setupPolling();
});
