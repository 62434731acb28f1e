// Progress bars' widths, live updates by polling the JSON API; forms that ask for confirmation.
"use strict";

const POLL_MS = 2000;
const ENDED = new Set(["succeeded", "partial", "failed", "cancelled"]);

function text(root, field, value) {
  const el = root.querySelector(`[data-field="${field}"]`);
  if (el) el.textContent = value;
}

function count(n) {
  return n.toLocaleString("en-US"); // as the page's count filter: 1,205
}

function countsText(counts) {
  return Object.entries(counts).filter(([, n]) => n).map(([s, n]) => `${count(n)} ${s}`).join(", ");
}

// the same units as the pages' sizes (audiobatch.readable.size_text)
function sizeText(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  let value = bytes / 1000;
  const units = ["kB", "MB", "GB", "TB"];
  for (const [i, unit] of units.entries()) {
    const shown = value < 99.95 ? value.toFixed(1) : value.toFixed(0);  // as it rounds
    if (Number(shown) < 1000 || i === units.length - 1) return `${shown} ${unit}`;
    value /= 1000;
  }
}

// the same units as the pages' durations (audiobatch.readable.elapsed_text)
function elapsedText(seconds) {
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function etaText(b) {
  if (b.eta_s != null) return elapsedText(b.eta_s);
  return b.eta_reason ? `– (${b.eta_reason})` : "–";
}

function bar(root, counts) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  root.querySelectorAll("[data-seg]").forEach((seg) => {
    seg.style.width = total ? `${(100 * (counts[seg.dataset.seg] || 0)) / total}%` : "0%";
  });
}

function status(root, value) {
  const el = root.querySelector('[data-field="status"]');
  if (el) { el.textContent = value; el.className = `status ${value}`; }
}

function backend(root, value) {
  const el = root.querySelector('[data-field="backend"]');
  if (el) { el.textContent = value || "–"; el.className = value === "emulator" ? "backend emulator" : "backend"; }
}

async function fetchJson(url) {
  const answer = await fetch(url, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(`${url}: ${answer.status}`);
  return answer.json();
}

function pollBatch(section) {
  const tick = async () => {
    try {
      const b = await fetchJson(section.dataset.live);
      status(section, b.status);
      backend(section, b.backend);
      bar(section, b.counts);
      text(section, "ended", count(b.ended));
      text(section, "percent", (100 * b.progress).toFixed(1));
      text(section, "counts", countsText(b.counts));
      text(section, "eta", etaText(b));
      text(section, "rate", b.jobs_per_s ? `${b.jobs_per_s.toFixed(2)} jobs/s` : "–");
      text(section, "characters", count(b.characters));
      text(section, "outputs", `${b.outputs.files} files, ${sizeText(b.outputs.bytes)}`);
      if (ENDED.has(b.status)) { window.location.reload(); return; }
    } catch (e) { console.warn(e); }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

function pollBatchList(table) {
  const tick = async () => {
    try {
      const page = await fetchJson(table.dataset.live);
      for (const b of page.items) {
        const row = table.querySelector(`tr[data-batch="${CSS.escape(b.id)}"]`);
        if (!row) continue;
        status(row, b.status);
        backend(row, b.backend);
        bar(row, b.counts);
        text(row, "counts", countsText(b.counts));
      }
    } catch (e) { console.warn(e); }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  // widths set here, not in a style attribute: the page's CSP allows no inline style
  document.querySelectorAll("[data-seg][data-width]").forEach((seg) => {
    seg.style.width = `${seg.dataset.width}%`;
  });
  document.querySelectorAll("section[data-live]").forEach((s) => {
    if (s.dataset.ended !== "true") pollBatch(s);
  });
  document.querySelectorAll("table[data-live]").forEach(pollBatchList);
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
