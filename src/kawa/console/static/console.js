// kawa's web console: plain JavaScript, no build step, no library (docs/observability.md).
// The token lives in this tab's sessionStorage only; every request carries it as
// "Authorization: Bearer". Data from the API is only ever put in the page as text.
"use strict";

const TOKEN_KEY = "kawa-console-token";
const REFRESH_MS = 5000;
const MAX_EVENTS = 200;
const SVG = "http://www.w3.org/2000/svg";

// What the topology draws: the lists kubectl gets, one column per role.
const KINDS = [
  { kind: "PingSource", path: "/apis/sources.knative.dev/v1/pingsources", column: 0 },
  { kind: "ApiServerSource", path: "/apis/sources.knative.dev/v1/apiserversources", column: 0 },
  { kind: "ContainerSource", path: "/apis/sources.knative.dev/v1/containersources", column: 0 },
  { kind: "SinkBinding", path: "/apis/sources.knative.dev/v1/sinkbindings", column: 0 },
  { kind: "Broker", path: "/apis/eventing.knative.dev/v1/brokers", column: 1 },
  { kind: "Channel", path: "/apis/messaging.knative.dev/v1/channels", column: 1 },
  { kind: "InMemoryChannel", path: "/apis/messaging.knative.dev/v1/inmemorychannels", column: 1 },
  { kind: "Trigger", path: "/apis/eventing.knative.dev/v1/triggers", column: 2 },
  { kind: "Subscription", path: "/apis/messaging.knative.dev/v1/subscriptions", column: 2 },
  { kind: "Service", path: "/apis/serving.knative.dev/v1/services", column: 3 },
];
const COLUMNS = ["Sources", "Brokers and channels", "Triggers and subscriptions", "Services and sinks"];
const NODE_W = 200, NODE_H = 46, COL_GAP = 56, ROW_GAP = 16, TOP = 34, LEFT = 12;

const $ = (id) => document.getElementById(id);
let token = null;
let refreshTimer = null;
let nodes = new Map();
let selected = null;
let detailFormat = "yaml";
let live = null;

class Unauthorized extends Error {}

// what an API answer that is not OK says (a Kubernetes Status carries a message)
async function refusal(response) {
  try {
    return (await response.json()).message || `the API answered ${response.status}`;
  } catch (_) {
    return `the API answered ${response.status}`; // not JSON
  }
}

// -- the token and the session -----------------------------------------------------------

function tokenFromFragment() {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash) return null;
  const value = new URLSearchParams(hash).get("token");
  // drop the fragment from the address bar and the history
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return value;
}

let session = 0; // counts log-outs: work started before one is dropped

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  headers.Authorization = "Bearer " + token;
  const response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
  if (response.status === 401) throw new Unauthorized();
  return response;
}

async function logIn(candidate, fromForm) {
  token = candidate;
  try {
    const response = await api("/apis/eventing.knative.dev/v1/brokers?limit=1");
    if (!response.ok) throw new Error(`the API answered ${response.status}`);
  } catch (err) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(err instanceof Unauthorized
      ? (fromForm ? "That token is not kawa's." : "Log in with kawa's token.")
      : `Cannot reach kawa: ${err.message}`);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, candidate);
  $("login").hidden = true;
  $("token").value = "";
  $("app").hidden = false;
  $("session").hidden = false;
  const started = session;
  await refresh();
  if (session !== started) return; // logged out while the first refresh ran
  refreshTimer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

function logOut(message) {
  session += 1; // what a refresh in flight fetched is not drawn
  stopLive();
  stopLookup();
  $("lineage").replaceChildren();
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(refreshTimer);
  refreshTimer = null;
  nodes = new Map();
  numbersFetches += 1;
  $("topology").replaceChildren();
  $("events").tBodies[0].replaceChildren();
  closeDetails();
  showLogin(message || "");
}

function showLogin(message) {
  $("app").hidden = true;
  $("session").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("token").focus();
}

// -- the topology ------------------------------------------------------------------------

function readyOf(obj) {
  const conditions = (obj.status && obj.status.conditions) || [];
  const ready = conditions.find((c) => c.type === "Ready");
  if (!ready) return "none";
  return { True: "ready", False: "failed" }[ready.status] || "unknown";
}

function key(kind, namespace, name) {
  return `${kind}/${namespace || ""}/${name}`;
}

async function fetchLists() {
  const lists = await Promise.all(KINDS.map(async (k) => {
    const response = await api(k.path);
    if (response.status === 404) return { k, items: [] };
    if (!response.ok) throw new Error(`${k.path}: ${response.status}`);
    return { k, items: (await response.json()).items || [] };
  }));
  return lists;
}

function buildGraph(lists) {
  const graph = new Map();
  const edges = [];
  const alias = new Map(); // an InMemoryChannel a Channel owns is drawn as that Channel
  for (const { k, items } of lists) {
    for (const obj of items) {
      const meta = obj.metadata;
      const owner = (meta.ownerReferences || []).find((o) => o.kind === "Channel");
      if (k.kind === "InMemoryChannel" && owner) {
        alias.set(key("InMemoryChannel", meta.namespace, meta.name),
          key("Channel", meta.namespace, owner.name));
        continue;
      }
      const id = key(k.kind, meta.namespace, meta.name);
      graph.set(id, { id, kind: k.kind, namespace: meta.namespace || "", name: meta.name,
        column: k.column, ready: readyOf(obj), obj });
    }
  }
  const resolve = (id) => alias.get(id) || id;
  const target = (dest, namespace) => {
    if (!dest) return null;
    if (dest.ref) {
      const ns = dest.ref.namespace || namespace;
      const id = resolve(key(dest.ref.kind, ns, dest.ref.name));
      if (!graph.has(id)) {
        graph.set(id, { id, kind: dest.ref.kind, namespace: ns, name: dest.ref.name,
          column: 3, ready: "none", obj: null, ref: dest.ref });
      }
      return id;
    }
    if (dest.uri) {
      const id = key("URI", "", dest.uri);
      if (!graph.has(id)) {
        graph.set(id, { id, kind: "URI", namespace: "", name: dest.uri, column: 3,
          ready: "none", obj: null });
      }
      return id;
    }
    return null;
  };
  const edge = (from, to, reply) => { if (from && to) edges.push({ from, to, reply }); };
  for (const node of [...graph.values()]) {
    const spec = (node.obj && node.obj.spec) || {};
    const ns = node.namespace;
    if (node.column === 0) {
      edge(node.id, target(spec.sink, ns));
    } else if (node.kind === "Trigger") {
      edge(resolve(key("Broker", ns, spec.broker || "default")), node.id);
      edge(node.id, target(spec.subscriber, ns));
    } else if (node.kind === "Subscription") {
      const channel = spec.channel;
      if (channel) edge(resolve(key(channel.kind, channel.namespace || ns, channel.name)), node.id);
      edge(node.id, target(spec.subscriber, ns));
      edge(node.id, target(spec.reply, ns), true);
    }
  }
  return { graph, edges: edges.filter((e) => graph.has(e.from) && graph.has(e.to)) };
}

function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, value);
  if (parent) parent.appendChild(el);
  return el;
}

function clip(text, max) {
  return text.length > max ? text.slice(0, max - 1) + "\u2026" : text;
}

function draw(graph, edges) {
  const root = $("topology");
  root.replaceChildren();
  const columns = [[], [], [], []];
  for (const node of graph.values()) columns[node.column].push(node);
  const order = (a, b) => (a.namespace + "/" + a.name).localeCompare(b.namespace + "/" + b.name)
    || a.kind.localeCompare(b.kind);
  let rows = 0;
  columns.forEach((column, c) => {
    column.sort(order);
    column.forEach((node, r) => {
      node.x = LEFT + c * (NODE_W + COL_GAP);
      node.y = TOP + r * (NODE_H + ROW_GAP);
    });
    rows = Math.max(rows, column.length);
    const title = svg("text", { x: LEFT + c * (NODE_W + COL_GAP), y: 18, class: "column-title" }, root);
    title.textContent = COLUMNS[c];
  });
  const width = LEFT * 2 + 4 * NODE_W + 3 * COL_GAP;
  const height = TOP + Math.max(rows, 1) * (NODE_H + ROW_GAP);
  root.setAttribute("width", width);
  root.setAttribute("height", height);
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  for (const e of edges) {
    const a = graph.get(e.from), b = graph.get(e.to);
    const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
    const bend = Math.max(40, Math.abs(x2 - x1) / 2);
    svg("path", { d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
      class: e.reply ? "edge reply" : "edge", "data-from": e.from, "data-to": e.to }, root);
  }
  for (const node of graph.values()) {
    const g = svg("g", { class: `node ${node.ready}`, transform: `translate(${node.x},${node.y})`,
      tabindex: "0", role: "button", "data-kind": node.kind, "data-namespace": node.namespace,
      "data-name": node.name, "data-ready": node.ready }, root);
    if (selected === node.id) g.classList.add("selected");
    svg("rect", { width: NODE_W, height: NODE_H, rx: 6 }, g);
    svg("rect", { class: "bar", width: 6, height: NODE_H - 4, x: 2, y: 2, rx: 3 }, g);
    const kind = svg("text", { class: "kind", x: 14, y: 16 }, g);
    kind.textContent = node.namespace ? `${node.kind} \u00b7 ${node.namespace}` : node.kind;
    const name = svg("text", { class: "name", x: 14, y: 34 }, g);
    name.textContent = clip(node.name, 26);
    const tip = svg("title", {}, g);
    tip.textContent = `${node.kind} ${node.namespace ? node.namespace + "/" : ""}${node.name}`;
    g.addEventListener("click", () => showDetails(node.id));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") showDetails(node.id); });
  }
  $("topology-empty").hidden = graph.size > 0;
}

async function refresh() {
  if (!token) return;
  const started = session;
  try {
    const lists = await fetchLists();
    if (session !== started) return;
    const { graph, edges } = buildGraph(lists);
    nodes = graph;
    draw(graph, edges);
    fillBrokers(lists.find((l) => l.k.kind === "Broker").items);
    if (selected && nodes.has(selected)) renderDetails(nodes.get(selected));
    $("topology-error").textContent = "";
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    if (session !== started) return;
    if (err instanceof Unauthorized) return logOut("The token is no longer valid.");
    $("topology-error").textContent = `Cannot read the topology: ${err.message}`;
  }
}

// -- details of one node -------------------------------------------------------------------

function showDetails(id) {
  selected = id;
  for (const g of $("topology").querySelectorAll(".node")) g.classList.remove("selected");
  const node = nodes.get(id);
  const el = [...$("topology").querySelectorAll(".node")].find((g) =>
    key(g.dataset.kind, g.dataset.namespace, g.dataset.name) === id);
  if (el) el.classList.add("selected");
  if (node) renderDetails(node);
}

function renderDetails(node) {
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
  $("watch-broker").hidden = node.kind !== "Broker" || !node.obj;
  const trigger = node.kind === "Trigger" && node.obj;
  $("trigger-numbers").hidden = !trigger;
  if (trigger) fetchNumbers(node);
}

// -- a trigger's numbers: its consumer's counts, backlog and oldest undelivered age ----------

const NUMBERS = [
  ["matched", "matched"], ["filteredOut", "filtered out"], ["delivered", "delivered"],
  ["deadLettered", "dead-lettered"], ["dropped", "dropped (given up)"], ["replies", "replies"],
  ["backlog", "backlog (records)"], ["oldestUndeliveredSeconds", "oldest undelivered"],
  ["lastError", "last error"],
];
let numbersFetches = 0; // what an older fetch (another node, a log-out) gets is not drawn

async function fetchNumbers(node) {
  const current = ++numbersFetches;
  const started = session;
  const path = `/console/numbers/namespaces/${encodeURIComponent(node.namespace)}/triggers/` +
    encodeURIComponent(node.name);
  let answer;
  try {
    const response = await api(path);
    if (!response.ok) throw new Error(await refusal(response));
    answer = await response.json();
  } catch (err) {
    if (session !== started || current !== numbersFetches) return;
    if (err instanceof Unauthorized) return logOut("The token is no longer valid.");
    $("numbers").replaceChildren();
    $("numbers-status").textContent = `Cannot read its numbers: ${err.message}`;
    return;
  }
  if (session !== started || current !== numbersFetches) return;
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
}

// as kubectl get -o yaml shows objects: without metadata.managedFields
function withoutManagedFields(obj) {
  const metadata = Object.assign({}, obj.metadata);
  delete metadata.managedFields;
  return Object.assign({}, obj, { metadata });
}

function closeDetails() {
  selected = null;
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

// -- live events -------------------------------------------------------------------------------

function fillBrokers(brokers) {
  const values = brokers.map((b) => `${b.metadata.namespace}/${b.metadata.name}`).sort();
  for (const select of [$("live-broker"), $("lookup-broker")]) {
    const current = select.value;
    if (values.join("\n") === [...select.options].map((o) => o.value).join("\n")) continue;
    select.replaceChildren(...values.map((v) => new Option(v, v)));
    if (values.includes(current)) select.value = current;
  }
}

function stopLive() {
  if (live) live.abort();
  live = null;
  delete $("live-status").dataset.watching;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
}

async function startLive() {
  stopLive();
  const started = session;
  const broker = $("live-broker").value;
  if (!broker) {
    $("live-status").textContent = "No broker to watch.";
    return;
  }
  const [namespace, name] = broker.split("/");
  const query = new URLSearchParams();
  for (const [param, input] of [["type", "live-type"], ["source", "live-source"], ["cesql", "live-cesql"]]) {
    const value = $(input).value.trim();
    if (value) query.set(param, value);
  }
  const controller = new AbortController();
  live = controller;
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  $("live-status").textContent = `Connecting to broker ${broker}\u2026`;
  const path = `/console/events/namespaces/${encodeURIComponent(namespace)}/brokers/` +
    `${encodeURIComponent(name)}?${query}`;
  try {
    const response = await api(path, { headers: { Accept: "text/event-stream" }, signal: controller.signal });
    if (!response.ok) throw new Error(await refusal(response));
    const filters = [...query.entries()].map(([k, v]) => `${k} ${v}`).join(", ");
    $("live-status").textContent =
      `Watching broker ${broker}${filters ? " (" + filters + ")" : ""}: new events appear below.`;
    $("live-status").dataset.watching = broker;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        onMessage(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
    if (live === controller) $("live-status").textContent = `The stream of ${broker} ended.`;
  } catch (err) {
    if (session !== started) return;
    if (err instanceof Unauthorized) return logOut("The token is no longer valid.");
    if (controller.signal.aborted) {
      $("live-status").textContent = "Not watching.";
    } else {
      $("live-status").textContent = `Cannot watch ${broker}: ${err.message}`;
    }
  } finally {
    if (live === controller) stopLive();
  }
}

function onMessage(block) {
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
  }
  if (!data) return; // a comment (keep-alive)
  const message = JSON.parse(data);
  const event = message.event;
  const body = $("events").tBodies[0];
  const row = document.createElement("tr");
  row.className = "fresh";
  row.dataset.type = event.type;
  row.dataset.id = event.id;
  const time = new Date(message.appendedAt * 1000).toLocaleTimeString();
  for (const value of [message.seq, time, event.type, event.source, event.id]) {
    const cell = row.insertCell();
    cell.textContent = String(value);
  }
  const broker = $("live-status").dataset.watching;
  row.addEventListener("click", () => {
    const next = row.nextElementSibling;
    if (next && next.classList.contains("data")) return next.remove();
    if (broker) lookUp(broker, event.id, event.source);
    const detail = document.createElement("tr");
    detail.className = "data";
    const cell = detail.insertCell();
    cell.colSpan = 5;
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(event, null, 2);
    cell.appendChild(pre);
    row.after(detail);
  });
  body.prepend(row);
  while (body.querySelectorAll("tr:not(.data)").length > MAX_EVENTS) body.lastElementChild.remove();
}

// -- event lineage: the broker's trace subresource (docs/observability.md) ----------------------

const LINEAGE_POLL_MS = 1000;
const LINEAGE_POLLS = 20;
const OUTCOMES = new Set(["delivered", "dead-lettered", "dropped", "kept"]);
let lookups = 0; // counts lookups: what an older one fetches is not drawn
let lookupTimer = null;

function lookUp(broker, id, source) {
  $("lookup-broker").value = broker;
  $("lookup-id").value = id;
  $("lookup-source").value = source || "";
  stopLookup();
  $("lineage").replaceChildren();
  $("lineage-status").textContent = `Looking up ${id} in broker ${broker}\u2026`;
  delete $("lineage-status").dataset.settled;
  fetchLineage(lookups, broker, id, source, 0);
}

function stopLookup() {
  lookups += 1;
  clearTimeout(lookupTimer);
  lookupTimer = null;
}

async function fetchLineage(current, broker, id, source, polls) {
  const started = session;
  const stale = () => session !== started || current !== lookups;
  const [namespace, name] = broker.split("/");
  const query = new URLSearchParams({ id });
  if (source) query.set("source", source);
  const path = `/apis/eventing.knative.dev/v1/namespaces/${encodeURIComponent(namespace)}` +
    `/brokers/${encodeURIComponent(name)}/trace?${query}`;
  let answer;
  try {
    const response = await api(path);
    if (!response.ok) throw new Error(await refusal(response));
    answer = await response.json();
  } catch (err) {
    if (stale()) return;
    if (err instanceof Unauthorized) return logOut("The token is no longer valid.");
    $("lineage").replaceChildren();
    $("lineage-status").textContent = `Cannot look up ${id} in broker ${broker}: ${err.message}`;
    $("lineage-status").dataset.settled = "error";
    return;
  }
  if (stale()) return;
  drawLineage(answer);
  const pending = !settled(answer, namespace, name) && polls < LINEAGE_POLLS;
  const found = answer.events.length === 1 ? "1 event" : `${answer.events.length} events`;
  $("lineage-status").textContent = `Broker ${broker}, id ${id}: ${found}` +
    (answer.broker.lineage ? "" : " (the broker keeps no lineage: kawa.dev/lineage is off)") +
    (pending ? "; deliveries in flight, refreshing\u2026" : ".");
  $("lineage-status").dataset.settled = pending ? "no" : "yes";
  if (pending) {
    lookupTimer = setTimeout(() => fetchLineage(current, broker, id, source, polls + 1),
      LINEAGE_POLL_MS);
  }
}

// whether more is to come: a trigger of the broker has not decided yet, or one that matched
// has no outcome yet (lineage is written a moment after the fact)
function settled(answer, namespace, name) {
  if (!answer.broker.lineage) return true;
  const triggers = [...nodes.values()].filter((n) => n.kind === "Trigger" && n.obj
    && n.namespace === namespace && (n.obj.spec.broker || "default") === name).length;
  return answer.events.every((found) => {
    const steps = found.timeline;
    const decided = steps.filter((s) => s.what === "filter");
    if (decided.length < triggers) return false;
    return decided.every((d) => !d.matched
      || steps.some((s) => s.trigger === d.trigger && OUTCOMES.has(s.what)));
  });
}

function drawLineage(answer) {
  const root = $("lineage");
  root.replaceChildren();
  for (const found of answer.events) {
    const block = el("div", "lineage-event", root);
    block.dataset.seq = found.seq;
    const e = found.event;
    el("h3", "", block).textContent =
      `Event ${e.id} \u00b7 ${e.type} \u00b7 ${e.source} (seq ${found.seq}, stored ${found.appendedAt})`;
    const list = el("ol", "timeline", block);
    if (found.timeline.length === 0) el("li", "muted", list).textContent = "No lineage recorded yet.";
    for (const step of found.timeline) {
      const item = el("li", stepClass(step), list);
      item.dataset.what = step.what;
      if (step.trigger) item.dataset.trigger = step.trigger;
      if (step.what === "filter") item.dataset.matched = String(step.matched);
      if (step.what === "attempt") item.dataset.status = String(step.status ?? "none");
      const time = el("time", "", item);
      time.dateTime = step.at;
      time.textContent = new Date(step.at).toLocaleTimeString(undefined, { hour12: false })
        + "." + step.at.slice(20, 23);
      time.title = step.at;
      const lines = stepLines(step);
      el("span", "what", item).textContent = lines[0];
      for (const line of lines.slice(1)) el("div", "why", item).textContent = line;
    }
  }
}

function el(tag, className, parent) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  parent.appendChild(made);
  return made;
}

function stepClass(step) {
  if (step.what === "filter") return step.matched ? "ok" : "skip";
  if (step.what === "attempt") return step.status >= 200 && step.status < 300 ? "ok" : "bad";
  if (step.what === "delivered") return "ok";
  if (step.what === "dead-lettered" || step.what === "dropped" || step.what === "kept") return "bad";
  return "";
}

// one step as lines of text, as `kawa trace` prints it
function stepLines(step) {
  const trigger = `trigger ${step.trigger}`;
  const error = step.error ? ` (${step.error})` : "";
  switch (step.what) {
    case "accepted":
      return [`accepted by ${step.by}` + (step.replyOf ? ` (reply of ${step.replyOf})` : "")];
    case "filter": {
      if (step.matched) return [`${trigger}: matched`];
      const lines = [`${trigger}: not matched`];
      if (step.rejection) rejectionLines(step.rejection, 0, lines);
      if (step.note) lines.push(step.note);
      return lines;
    }
    case "attempt": {
      const answer = step.status === undefined || step.status === null
        ? "no answer" : `HTTP ${step.status}`;
      const ms = (Number(step.seconds || 0) * 1000).toFixed(1);
      return [`${trigger}: ${step.stage} attempt ${step.attempt} to ${step.destination}: ` +
        `${answer} in ${ms} ms${error}`];
    }
    case "reply":
      return [`${trigger}: reply ${step.replyId} ` +
        (step.dropped ? `dropped (${step.dropped})` : "handed on")];
    default:
      return [`${trigger}: ${step.what}${error}`];
  }
}

function rejectionLines(rejection, depth, lines) {
  lines.push(`${"\u00a0".repeat(depth)}${rejection.path}: ${rejection.reason}`);
  for (const alternative of rejection.alternatives || []) {
    rejectionLines(alternative, depth + 2, lines);
  }
}

// -- wiring --------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    logIn($("token").value.trim(), true);
  });
  $("logout").addEventListener("click", () => logOut("Logged out."));
  $("refresh").addEventListener("click", refresh);
  $("close-details").addEventListener("click", closeDetails);
  $("show-yaml").addEventListener("click", () => { detailFormat = "yaml"; showDetails(selected); });
  $("show-json").addEventListener("click", () => { detailFormat = "json"; showDetails(selected); });
  $("watch-broker").addEventListener("click", () => {
    const node = nodes.get(selected);
    $("live-broker").value = `${node.namespace}/${node.name}`;
    startLive();
  });
  $("live-form").addEventListener("submit", (ev) => { ev.preventDefault(); startLive(); });
  $("live-stop").addEventListener("click", stopLive);
  $("lookup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const broker = $("lookup-broker").value;
    if (!broker) {
      $("lineage-status").textContent = "No broker to look in.";
      return;
    }
    lookUp(broker, $("lookup-id").value.trim(), $("lookup-source").value.trim());
  });
  const given = tokenFromFragment() || sessionStorage.getItem(TOKEN_KEY);
  if (given) logIn(given, false);
  else showLogin("");
});
