// The semsearch search page. It talks to the JSON API of the server that served it.
//
// Safety rule: text from documents (and from the server) only ever reaches the page as
// text nodes (textContent, append(string)), never parsed as HTML: nothing here assigns
// markup, so a document holding <script> or <img onerror> shows that text, inert.
"use strict";

const KEY_STORAGE = "semsearch.apiKey";
const SNIPPET_CONTEXT = 220; // characters shown around the highlighted sentence

const byId = (id) => document.getElementById(id);
const ui = {
  form: byId("search-form"),
  query: byId("query"),
  mode: byId("mode"),
  k: byId("k"),
  pathPrefix: byId("path-prefix"),
  fileTypes: byId("file-types"),
  modifiedAfter: byId("modified-after"),
  byDocument: byId("by-document"),
  error: byId("error"),
  status: byId("status"),
  results: byId("results"),
  stats: byId("stats"),
  keyPanel: byId("key-panel"),
  keyForm: byId("key-form"),
  keyInput: byId("api-key"),
  keyMessage: byId("key-message"),
  forgetKey: byId("forget-key"),
  dialog: byId("document-view"),
  documentTitle: byId("document-title"),
  documentMeta: byId("document-meta"),
  documentText: byId("document-text"),
  documentClose: byId("document-close"),
};

let pendingAction = null; // what to retry once the user gives an API key
let statsShown = false;
let searchSequence = 0; // answers to older searches are dropped
let documentOpener = null; // where focus goes back when the document view closes

// --- the API -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function storedKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

async function callApi(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const key = storedKey();
  if (key) headers.Authorization = "Bearer " + key;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (failure) {
    throw new ApiError(0, "Cannot reach the semsearch server (" + failure.message + "). " +
      "Check that `semsearch serve` is still running, then try again.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, describeError(response, data, text));
  return data;
}

function describeError(response, data, text) {
  const head = "Error " + response.status + (response.statusText ? " " + response.statusText : "");
  const detail = data && data.detail;
  if (Array.isArray(detail)) {
    // FastAPI's validation errors: say which field and why.
    const parts = detail.map((item) => {
      const where = Array.isArray(item.loc)
        ? item.loc.filter((part) => part !== "body").join(".") : "";
      return (where ? where + ": " : "") + (item.msg || JSON.stringify(item));
    });
    return head + ": " + parts.join("; ");
  }
  if (typeof detail === "string") return head + ": " + detail;
  if (response.status >= 500) return head + ": the server failed; its log says why.";
  return head + (text ? ": " + text.slice(0, 300) : "");
}

// Runs an action that calls the API; a 401 asks for the key and retries it afterwards.
async function run(action) {
  try {
    await action();
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) {
      askForKey(action, storedKey()
        ? "The server refused that key. Enter the key the server was started with."
        : "This server needs an API key (SEMSEARCH_API_KEY) for searches.");
      return;
    }
    showError(failure instanceof ApiError ? failure.message : String(failure));
  }
}

// --- messages --------------------------------------------------------------------------

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
  ui.status.textContent = "";
  ui.results.removeAttribute("aria-busy");
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// --- the API key -----------------------------------------------------------------------

function askForKey(action, message) {
  pendingAction = action;
  ui.keyMessage.textContent = message;
  ui.keyPanel.hidden = false;
  ui.keyInput.value = "";
  ui.keyInput.focus();
  ui.status.textContent = "";
  ui.results.removeAttribute("aria-busy");
}

ui.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = ui.keyInput.value.trim();
  if (!key) {
    ui.keyMessage.textContent = "Type the API key first.";
    ui.keyInput.focus();
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  ui.keyPanel.hidden = true;
  ui.forgetKey.hidden = false;
  const action = pendingAction;
  pendingAction = null;
  ui.query.focus();
  run(async () => {
    await loadStats();
    if (action) await action();
  });
});

ui.forgetKey.addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORAGE);
  ui.forgetKey.hidden = true;
  ui.status.textContent = "API key forgotten.";
});

// --- stats -----------------------------------------------------------------------------

async function loadStats() {
  if (statsShown) return;
  const stats = await callApi("GET", "/stats");
  statsShown = true;
  ui.stats.textContent = stats.documents + " documents · " + stats.chunks + " chunks · " +
    stats.model;
}

// --- searching -------------------------------------------------------------------------

function searchRequest() {
  const request = {
    query: ui.query.value,
    mode: ui.mode.value,
    k: ui.k.value === "" ? 10 : Number(ui.k.value),
  };
  const filters = {};
  const prefix = ui.pathPrefix.value.trim();
  if (prefix) filters.path_prefix = prefix;
  const types = ui.fileTypes.value.split(/[\s,]+/).filter(Boolean);
  if (types.length) filters.file_types = types;
  if (ui.modifiedAfter.value) filters.modified_after = ui.modifiedAfter.value + "T00:00:00";
  if (Object.keys(filters).length) request.filters = filters;
  if (ui.byDocument.checked) request.group_by = "document";
  return request;
}

function rememberInUrl(request) {
  const params = new URLSearchParams({ q: request.query, mode: request.mode, k: request.k });
  if (ui.pathPrefix.value.trim()) params.set("prefix", ui.pathPrefix.value.trim());
  if (ui.fileTypes.value.trim()) params.set("types", ui.fileTypes.value.trim());
  if (ui.modifiedAfter.value) params.set("after", ui.modifiedAfter.value);
  if (ui.byDocument.checked) params.set("by", "document");
  history.replaceState(null, "", "?" + params.toString());
}

function restoreFromUrl() {
  const params = new URLSearchParams(location.search);
  ui.query.value = params.get("q") || "";
  if (["hybrid", "dense", "lexical"].includes(params.get("mode"))) {
    ui.mode.value = params.get("mode");
  }
  if (params.get("k")) ui.k.value = params.get("k");
  ui.pathPrefix.value = params.get("prefix") || "";
  ui.fileTypes.value = params.get("types") || "";
  ui.modifiedAfter.value = params.get("after") || "";
  ui.byDocument.checked = params.get("by") === "document";
  return ui.query.value.trim() !== "";
}

async function search() {
  clearError();
  const request = searchRequest();
  if (!request.query.trim()) {
    showError("Type something to search for.");
    ui.query.focus();
    return;
  }
  const sequence = ++searchSequence;
  ui.status.textContent = "Searching…";
  ui.results.setAttribute("aria-busy", "true");
  let response;
  try {
    response = await callApi("POST", "/search", request);
  } catch (failure) {
    if (sequence === searchSequence) ui.results.replaceChildren(); // not the old query's
    throw failure;
  }
  if (sequence !== searchSequence) return;
  rememberInUrl(request);
  showResults(response);
}

function showResults(response) {
  ui.results.removeAttribute("aria-busy");
  ui.results.replaceChildren(...response.results.map(resultItem));
  const count = response.results.length;
  const took = response.timings_ms && response.timings_ms.total;
  ui.status.textContent = (count === 0 ? "No results" : count + (count === 1 ? " result" : " results")) +
    " for “" + response.query + "”" + (took !== undefined ? " (" + Math.round(took) + " ms)" : "");
}

function resultItem(hit, index) {
  const item = element("li", "result");
  item.dataset.index = String(index);
  const title = element("button", "result-title", hit.title || hit.path);
  title.type = "button";
  title.addEventListener("click", () => openDocument(hit, title));
  const meta = element("p", "result-meta");
  meta.append(element("span", "path", hit.path));
  if (hit.page !== null && hit.page !== undefined) meta.append(element("span", "page", "page " + hit.page));
  if (hit.headings && hit.headings.length) {
    meta.append(element("span", "headings", hit.headings.join(" › ")));
  }
  meta.append(element("span", "score", hit.score_kind + " " + formatScore(hit.score)));
  const snippet = element("p", "snippet");
  snippet.id = "snippet-" + index;
  appendSnippet(snippet, hit);
  title.setAttribute("aria-describedby", snippet.id);
  item.append(title, meta, snippet);
  item.addEventListener("click", (event) => {
    if (event.target === item || event.target === snippet) title.focus();
  });
  return item;
}

function formatScore(score) {
  return Math.abs(score) >= 100 ? score.toFixed(1) : score.toFixed(3);
}

// Offsets from the API count Unicode code points; JavaScript strings count UTF-16 units.
function codePoints(text) {
  return Array.from(text);
}

// The highlighted sentence as [start, end) code points inside the hit's own text.
function highlightInHit(hit, chars) {
  const highlight = hit.highlights && hit.highlights[0];
  if (!highlight) return null;
  const start = highlight.start - hit.start;
  const end = highlight.end - hit.start;
  if (start >= 0 && end <= chars.length && chars.slice(start, end).join("") === highlight.text) {
    return [start, end];
  }
  const at = hit.text.indexOf(highlight.text);
  if (at < 0) return null;
  const from = codePoints(hit.text.slice(0, at)).length;
  return [from, from + codePoints(highlight.text).length];
}

function appendSnippet(container, hit) {
  const chars = codePoints(hit.text);
  const range = highlightInHit(hit, chars) || [0, 0];
  const from = wordStart(chars, Math.max(0, range[0] - SNIPPET_CONTEXT), range[0]);
  const to = wordEnd(chars,
    Math.min(chars.length, Math.max(range[1], from + SNIPPET_CONTEXT) + SNIPPET_CONTEXT), range[1]);
  if (from > 0) container.append("… ");
  container.append(chars.slice(from, range[0]).join(""));
  if (range[1] > range[0]) container.append(element("mark", null, chars.slice(range[0], range[1]).join("")));
  container.append(chars.slice(range[1], to).join(""));
  if (to < chars.length) container.append(" …");
}

// A cut moved to the next (wordStart) or previous (wordEnd) space, so no word is cut in two;
// text without spaces (Chinese) keeps the cut where it was.
function wordStart(chars, cut, limit) {
  if (cut <= 0) return 0;
  for (let i = cut; i < limit; i++) if (/\s/.test(chars[i])) return i + 1;
  return cut;
}

function wordEnd(chars, cut, limit) {
  if (cut >= chars.length) return chars.length;
  for (let i = cut; i > limit; i--) if (/\s/.test(chars[i])) return i;
  return cut;
}

// --- the document view -----------------------------------------------------------------

async function openDocument(hit, opener) {
  documentOpener = opener;
  clearError();
  await run(async () => {
    const documentView = await callApi("GET", "/documents/" + encodeURIComponent(hit.doc_id));
    showDocument(documentView, hit);
  });
}

function showDocument(documentView, hit) {
  ui.documentTitle.textContent = documentView.title || documentView.path;
  const meta = [documentView.path, documentView.format, formatBytes(documentView.size),
    "modified " + new Date(documentView.mtime * 1000).toLocaleDateString()];
  ui.documentMeta.replaceChildren(...meta.map((text) => element("span", null, text)));
  ui.documentText.replaceChildren(...documentNodes(documentView, hit));
  if (!ui.dialog.open) ui.dialog.showModal();
  const target = ui.documentText.querySelector("mark") || ui.documentText.querySelector(".hit-chunk");
  ui.documentText.focus();
  if (target) target.scrollIntoView({ block: "center" });
}

function formatBytes(size) {
  if (size < 1024) return size + " B";
  if (size < 1024 * 1024) return (size / 1024).toFixed(1) + " KB";
  return (size / 1024 / 1024).toFixed(1) + " MB";
}

// The document's text rebuilt from its chunks (neighbours overlap), as pieces with their
// document offsets; the gaps between chunks held only whitespace.
function documentPieces(documentView) {
  const chunks = [...documentView.chunks].sort((a, b) => a.start - b.start || a.end - b.end);
  const pieces = [];
  let covered = chunks.length ? chunks[0].start : 0;
  for (const chunk of chunks) {
    const chars = codePoints(chunk.text);
    const skip = Math.max(0, covered - chunk.start);
    if (skip >= chars.length) continue;
    const gap = chunk.start - covered;
    if (gap > 0) pieces.push({ gap });
    pieces.push({ start: chunk.start + skip, chars: chars.slice(skip), page: chunk.page });
    covered = chunk.start + chars.length;
  }
  return pieces;
}

function documentNodes(documentView, hit) {
  const highlight = hit.highlights && hit.highlights[0];
  const marked = highlight ? [highlight.start, highlight.end] : [0, 0];
  const inRange = (offset, range) => offset >= range[0] && offset < range[1];
  const nodes = [];
  let page = null;
  for (const piece of documentPieces(documentView)) {
    if (piece.gap) {
      nodes.push(document.createTextNode(piece.gap > 1 ? "\n\n" : " "));
      continue;
    }
    if (piece.page !== null && piece.page !== undefined && piece.page !== page) {
      page = piece.page;
      nodes.push(element("span", "page-marker", "page " + page));
    }
    const end = piece.start + piece.chars.length;
    const cuts = [piece.start, end, hit.start, hit.end, marked[0], marked[1]]
      .filter((cut) => cut >= piece.start && cut <= end)
      .sort((a, b) => a - b);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [from, to] = [cuts[i], cuts[i + 1]];
      if (from === to) continue;
      const text = piece.chars.slice(from - piece.start, to - piece.start).join("");
      if (inRange(from, marked)) nodes.push(element("mark", "hit-chunk", text));
      else if (inRange(from, [hit.start, hit.end])) nodes.push(element("span", "hit-chunk", text));
      else nodes.push(document.createTextNode(text));
    }
  }
  return nodes;
}

function closeDocument() {
  if (ui.dialog.open) ui.dialog.close();
}

ui.documentClose.addEventListener("click", closeDocument);
// The close event comes a task after the dialog closes, when the browser may already have
// put focus back and the user moved on (Escape, then j at once): only focus that is lost
// (on the page body, or still in the closed dialog) goes back to the opener.
ui.dialog.addEventListener("close", () => {
  const active = document.activeElement;
  const lost = !active || active === document.body || ui.dialog.contains(active);
  if (lost && documentOpener && document.contains(documentOpener)) documentOpener.focus();
});
// A click on the backdrop (outside the dialog's box) closes it too.
ui.dialog.addEventListener("click", (event) => {
  if (event.target === ui.dialog) closeDocument();
});

// --- keyboard --------------------------------------------------------------------------

function resultTitles() {
  return Array.from(ui.results.querySelectorAll(".result-title"));
}

function focusResult(index) {
  const titles = resultTitles();
  if (!titles.length) return;
  const target = titles[Math.max(0, Math.min(titles.length - 1, index))];
  target.focus();
  target.scrollIntoView({ block: "nearest" });
}

ui.results.addEventListener("focusin", (event) => {
  for (const item of ui.results.children) {
    item.classList.toggle("current", item.contains(event.target));
  }
});

document.addEventListener("keydown", (event) => {
  if (ui.dialog.open || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  const titles = resultTitles();
  const current = titles.indexOf(target);
  const inQuery = target === ui.query;
  const typing = !inQuery && target.matches("input, select, textarea");
  if (typing) return;
  if (event.key === "/" && !inQuery) {
    event.preventDefault();
    ui.query.focus();
    ui.query.select();
  } else if (event.key === "ArrowDown" || (event.key === "j" && !inQuery)) {
    if (!titles.length || (!inQuery && current < 0 && target !== document.body)) return;
    event.preventDefault();
    focusResult(current + 1);
  } else if (event.key === "ArrowUp" || (event.key === "k" && !inQuery)) {
    if (current < 0) return;
    event.preventDefault();
    if (current === 0) ui.query.focus();
    else focusResult(current - 1);
  } else if (event.key === "o" && current >= 0) {
    event.preventDefault();
    target.click();
  } else if (event.key === "Escape" && current >= 0) {
    ui.query.focus();
  }
});

// --- start -----------------------------------------------------------------------------

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  run(search);
});

ui.forgetKey.hidden = !storedKey();
ui.query.focus();
const searchFromUrl = restoreFromUrl();
run(async () => {
  await loadStats();
  if (searchFromUrl) await search();
});
