// The topology graph: sources -> brokers and channels -> triggers and subscriptions ->
// services and sinks, from the lists kubectl gets, coloured by Ready; each Trigger and
// Subscription with its rates of the last minute (the console's numbers endpoint).

import { $, Unauthorized, api, key, list, readyOf, state } from "./core.js";
import { showDetails } from "./details.js";

const SVG = "http://www.w3.org/2000/svg";

// What the topology draws: the lists kubectl gets, one column per role.
export const KINDS = [
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
const NODE_W = 200, NODE_H = 58, COL_GAP = 56, ROW_GAP = 16, TOP = 34, LEFT = 12;

export async function fetchLists() {
  return Promise.all(KINDS.map(async (k) => ({ k, items: await list(k.path) })));
}

export function buildGraph(lists) {
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

export function draw(graph, edges) {
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
    if (state.selected === node.id) g.classList.add("selected");
    svg("rect", { width: NODE_W, height: NODE_H, rx: 6 }, g);
    svg("rect", { class: "bar", width: 6, height: NODE_H - 4, x: 2, y: 2, rx: 3 }, g);
    const kind = svg("text", { class: "kind", x: 14, y: 16 }, g);
    kind.textContent = node.namespace ? `${node.kind} \u00b7 ${node.namespace}` : node.kind;
    const name = svg("text", { class: "name", x: 14, y: 34 }, g);
    name.textContent = clip(node.name, 26);
    const tip = svg("title", {}, g);
    tip.textContent = `${node.kind} ${node.namespace ? node.namespace + "/" : ""}${node.name}`;
    const filter = node.kind === "Trigger" && node.obj ? filterSummary(node.obj.spec || {}) : "";
    if (filter) tip.textContent += `\nfilter: ${filter}`;
    node.g = g;
    g.addEventListener("click", () => showDetails(node.id));
    g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") showDetails(node.id); });
  }
  $("topology-empty").hidden = graph.size > 0;
}

// -- what a Trigger's filter asks for, in one line ----------------------------------------------

// spec.filter.attributes as "name=value" pairs and spec.filters (CESQL's "cesql", and the
// dialect's exact, prefix, suffix, all, any, not) as written
export function filterSummary(spec) {
  const parts = [];
  const attributes = (spec.filter && spec.filter.attributes) || {};
  for (const [name, value] of Object.entries(attributes)) parts.push(`${name}=${value}`);
  for (const f of spec.filters || []) parts.push(dialect(f));
  return parts.join(" and ");
}

function dialect(f) {
  if (f.cesql !== undefined) return `cesql(${f.cesql})`;
  for (const op of ["exact", "prefix", "suffix"]) {
    if (f[op]) return `${op}(${Object.entries(f[op]).map(([k, v]) => `${k}=${v}`).join(", ")})`;
  }
  for (const op of ["all", "any"]) {
    if (f[op]) return `${op}(${f[op].map(dialect).join(", ")})`;
  }
  if (f.not) return `not(${dialect(f.not)})`;
  return JSON.stringify(f);
}

// -- each Trigger's and Subscription's rates, beside its node ------------------------------------

export const NUMBERS_PLURALS = { Trigger: "triggers", Subscription: "subscriptions" };

export function numbersPath(node) {
  return `/console/numbers/namespaces/${encodeURIComponent(node.namespace)}/` +
    `${NUMBERS_PLURALS[node.kind]}/${encodeURIComponent(node.name)}`;
}

// a rate as people read it: 0, 0.02, 1.5, 12, 340
export function perSecond(value) {
  if (!value) return "0";
  if (value < 0.1) return value.toFixed(2);
  if (value < 10) return value.toFixed(1);
  return String(Math.round(value));
}

export async function drawRates(graph, started) {
  const nodes = [...graph.values()].filter((n) => n.obj && n.kind in NUMBERS_PLURALS);
  await Promise.all(nodes.map(async (node) => {
    let answer;
    try {
      const response = await api(numbersPath(node));
      if (!response.ok) return;
      answer = await response.json();
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      return; // the next refresh tries again
    }
    if (state.session !== started || state.nodes.get(node.id) !== node || !node.g) return;
    const line = svg("text", { class: "rate", x: 14, y: 51 }, node.g);
    if (!answer.running) {
      line.textContent = "not running here";
      line.dataset.running = "no";
      return;
    }
    const rates = answer.rates.perSecond;
    line.dataset.running = "yes";
    line.dataset.delivered = String(rates.delivered);
    line.dataset.failed = String(answer.failed);
    line.dataset.retries = String(answer.retries);
    let text = `${perSecond(rates.delivered)}/s delivered`;
    if (rates.failed) text += ` \u00b7 ${perSecond(rates.failed)}/s failed`;
    if (rates.retries) text += ` \u00b7 ${perSecond(rates.retries)}/s retries`;
    line.textContent = text;
    if (rates.failed) line.classList.add("failing");
    const tip = svg("title", {}, line);
    tip.textContent = `over the last ${Math.round(answer.rates.windowSeconds)} s; since its ` +
      `consumer started: ${answer.delivered} delivered, ${answer.failed} failed, ` +
      `${answer.retries} retries, ${answer.deadLettered} dead-lettered`;
  }));
}
