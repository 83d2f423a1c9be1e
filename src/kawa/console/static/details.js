// The details of one node: its conditions, its YAML or JSON, a Trigger's filter, a Trigger's
// or Subscription's numbers.

import { $, Unauthorized, api, el, expired, key, refusal, state } from "./core.js";
import { deadLetterSink, fetchDeadLetters, forgetDeadLetters } from "./deadletters.js";
import { LIVE_PLURALS } from "./live.js";
import { NUMBERS_PLURALS, filterSummary, numbersPath, perSecond } from "./topology.js";

let detailFormat = "yaml";

export function showFormat(format) {
  detailFormat = format;
  showDetails(state.selected);
}

export function showDetails(id) {
  state.selected = id;
  for (const g of $("topology").querySelectorAll(".node")) g.classList.remove("selected");
  const node = state.nodes.get(id);
  const drawn = [...$("topology").querySelectorAll(".node")].find((g) =>
    key(g.dataset.kind, g.dataset.namespace, g.dataset.name) === id);
  if (drawn) drawn.classList.add("selected");
  if (node) renderDetails(node);
}

export function renderDetails(node) {
  $("details").hidden = false;
  $("details-title").textContent =
    `${node.kind} ${node.namespace ? node.namespace + "/" : ""}${node.name}`;
  const conditions = (node.obj && node.obj.status && node.obj.status.conditions) || [];
  const ready = conditions.find((c) => c.type === "Ready");
  $("details-ready").textContent = node.obj
    ? (ready ? `Ready: ${ready.status}${ready.reason ? " (" + ready.reason + ")" : ""}` : "No Ready condition")
    : "Not a kind the console lists (a sink it only references).";
  const body = $("conditions").tBodies[0];
  body.replaceChildren();
  for (const c of conditions) {
    const row = body.insertRow();
    row.title = c.lastTransitionTime ? `since ${c.lastTransitionTime}` : "";
    for (const value of [c.type, c.status, c.reason, c.message]) {
      const cell = row.insertCell();
      cell.textContent = value || "";
    }
    row.cells[1].className = c.status;
  }
  $("conditions").hidden = conditions.length === 0;
  const shown = node.obj ? withoutManagedFields(node.obj) : node.ref || { uri: node.name };
  $("object").textContent = detailFormat === "yaml" ? toYaml(shown) : JSON.stringify(shown, null, 2);
  $("show-yaml").classList.toggle("active", detailFormat === "yaml");
  $("show-json").classList.toggle("active", detailFormat === "json");
  $("watch-broker").hidden = !(node.kind in LIVE_PLURALS) || !node.obj;
  $("watch-broker").textContent = `Live events of this ${node.kind}`;
  const trigger = node.kind === "Trigger" && node.obj;
  const filter = trigger ? filterSummary(node.obj.spec || {}) : "";
  $("details-filter").hidden = !trigger;
  $("details-filter").textContent = trigger ? `Filter: ${filter || "none (every event)"}` : "";
  const counted = node.kind in NUMBERS_PLURALS && node.obj;
  $("trigger-numbers").hidden = !counted;
  if (counted) fetchNumbers(node);
  const sink = trigger && deadLetterSink(node);
  $("trigger-dead-letters").hidden = !sink;
  if (sink) fetchDeadLetters(node);
  else forgetDeadLetters();
}

// -- a trigger's or subscription's numbers: its consumer's counts, rates, backlog and oldest
// undelivered age

const NUMBERS = [
  ["matched", "matched"], ["filteredOut", "filtered out"], ["delivered", "delivered"],
  ["failed", "failed (every attempt)"], ["retries", "retries"],
  ["deadLettered", "dead-lettered"], ["dropped", "dropped (given up)"], ["replies", "replies"],
  ["backlog", "backlog (records)"], ["oldestUndeliveredSeconds", "oldest undelivered"],
  ["lastError", "last error"],
];
let numbersFetches = 0; // what an older fetch (another node, a log-out) gets is not drawn

export function forgetNumbers() {
  numbersFetches += 1;
  forgetDeadLetters();
}

async function fetchNumbers(node) {
  const current = ++numbersFetches;
  const started = state.session;
  const path = numbersPath(node);
  let answer;
  try {
    const response = await api(path);
    if (!response.ok) throw new Error(await refusal(response));
    answer = await response.json();
  } catch (err) {
    if (state.session !== started || current !== numbersFetches) return;
    if (err instanceof Unauthorized) return expired();
    $("numbers").replaceChildren();
    $("numbers-status").textContent = `Cannot read its numbers: ${err.message}`;
    return;
  }
  if (state.session !== started || current !== numbersFetches) return;
  const list = $("numbers");
  list.replaceChildren();
  $("numbers-status").textContent = answer.running
    ? "Since its consumer started in this kawa process:"
    : "Its consumer does not run in the kawa process that answered (not Ready, or another " +
      "worker or node runs it).";
  if (!answer.running) return;
  for (const [field, label] of NUMBERS) {
    let value = answer[field];
    if (field === "lastError" && !value) continue;
    if (field === "oldestUndeliveredSeconds") value = value ? `${value.toFixed(1)} s` : "none";
    el("dt", "", list).textContent = label;
    const dd = el("dd", "", list);
    dd.dataset.number = field;
    dd.textContent = String(value);
  }
  const rates = answer.rates;
  el("dt", "", list).textContent = `per second (last ${Math.round(rates.windowSeconds)} s)`;
  const dd = el("dd", "", list);
  dd.dataset.number = "rates";
  dd.textContent = ["delivered", "failed", "retries", "deadLettered"]
    .map((field) => `${perSecond(rates.perSecond[field])} ${field === "deadLettered" ? "dead-lettered" : field}`)
    .join(", ");
}

// as kubectl get -o yaml shows objects: without metadata.managedFields
function withoutManagedFields(obj) {
  const metadata = Object.assign({}, obj.metadata);
  delete metadata.managedFields;
  return Object.assign({}, obj, { metadata });
}

export function closeDetails() {
  state.selected = null;
  $("details").hidden = true;
  for (const g of $("topology").querySelectorAll(".node")) g.classList.remove("selected");
}

// A small YAML writer (block style; strings quoted as JSON when plain would be ambiguous).
function yamlScalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const s = String(value);
  const plain = /^[A-Za-z0-9_./][A-Za-z0-9_./ :@+=-]*$/.test(s) && !/:( |$)/.test(s)
    && !/ $/.test(s) && !/^(true|false|null|yes|no|on|off|~|[-+]?[0-9.][0-9._eE+-]*)$/i.test(s);
  return plain ? s : JSON.stringify(s);
}

function toYaml(value, indent = "") {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return value.map((item) => {
      if (item !== null && typeof item === "object" && Object.keys(item).length > 0) {
        const inner = toYaml(item, indent + "  ");
        return `${indent}- ${inner.slice(indent.length + 2)}`;
      }
      return `${indent}- ${toYaml(item, indent + "  ")}`;
    }).join("\n");
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    return entries.map(([k, v]) => {
      const name = yamlScalar(k);
      if (v !== null && typeof v === "object" && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
        const childIndent = Array.isArray(v) ? indent : indent + "  ";
        return `${indent}${name}:\n${toYaml(v, childIndent)}`;
      }
      return `${indent}${name}: ${toYaml(v, indent + "  ")}`;
    }).join("\n");
  }
  if (typeof value === "string" && value.includes("\n")) {
    return "|-\n" + value.split("\n").map((line) => indent + line).join("\n");
  }
  return yamlScalar(value);
}
