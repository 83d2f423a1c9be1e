// Live events of a broker or a channel (server-sent events) and an event's lineage (the
// broker's or the channel's trace subresource: docs/observability.md).

import { $, Unauthorized, api, el, expired, refusal, state } from "./core.js";

const MAX_EVENTS = 200;
let live = null;

// the kinds whose events can be watched live, by the plural the endpoint takes
export const LIVE_PLURALS = { Broker: "brokers", Channel: "channels", InMemoryChannel: "inmemorychannels" };

function fillSelect(select, options) {
  const current = select.value;
  if (options.map((o) => o[1]).join("\n") === [...select.options].map((o) => o.value).join("\n")) return;
  select.replaceChildren(...options.map(([label, value]) => new Option(label, value)));
  if (options.some((o) => o[1] === current)) select.value = current;
}

// brokers, channels and the InMemoryChannels that back no Channel (a Channel shows its own)
export function fillLive(brokers, channels, inMemoryChannels) {
  const key = (o) => `${o.metadata.namespace}/${o.metadata.name}`;
  const backing = (o) => (o.metadata.ownerReferences || []).some((r) => r.kind === "Channel");
  const watchable = [
    ...brokers.map((o) => ["Broker", o]),
    ...channels.map((o) => ["Channel", o]),
    ...inMemoryChannels.filter((o) => !backing(o)).map((o) => ["InMemoryChannel", o]),
  ].map(([kind, o]) => [`${kind} ${key(o)}`, `${LIVE_PLURALS[kind]}/${key(o)}`]);
  watchable.sort((a, b) => a[0].localeCompare(b[0]));
  fillSelect($("live-broker"), watchable);
  // what has a lineage: a broker (its value "ns/name") and a channel ("channels/ns/name")
  fillSelect($("lookup-broker"), watchable.filter(([, value]) => !value.startsWith("brokers/"))
    .map(([label, value]) => [label, value])
    .concat(brokers.map((o) => [`Broker ${key(o)}`, key(o)]))
    .sort((a, b) => a[0].localeCompare(b[0])));
}

export function stopLive() {
  if (live) live.abort();
  live = null;
  delete $("live-status").dataset.watching;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
}

export async function startLive() {
  stopLive();
  const started = state.session;
  const watched = $("live-broker").value;
  if (!watched) {
    $("live-status").textContent = "No broker or channel to watch.";
    return;
  }
  const [plural, namespace, name] = watched.split("/");
  const broker = $("live-broker").selectedOptions[0].text;
  const query = new URLSearchParams();
  for (const [param, input] of [["type", "live-type"], ["source", "live-source"], ["cesql", "live-cesql"]]) {
    const value = $(input).value.trim();
    if (value) query.set(param, value);
  }
  const controller = new AbortController();
  live = controller;
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  $("live-status").textContent = `Connecting to ${broker}\u2026`;
  const path = `/console/events/namespaces/${encodeURIComponent(namespace)}/${plural}/` +
    `${encodeURIComponent(name)}?${query}`;
  try {
    const response = await api(path, { headers: { Accept: "text/event-stream" }, signal: controller.signal });
    if (!response.ok) throw new Error(await refusal(response));
    const filters = [...query.entries()].map(([k, v]) => `${k} ${v}`).join(", ");
    $("live-status").textContent =
      `Watching ${broker}${filters ? " (" + filters + ")" : ""}: new events appear below.`;
    $("live-status").dataset.watching = watched;
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
    if (state.session !== started) return;
    if (err instanceof Unauthorized) return expired();
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
  // a broker's and a channel's events have a lineage (their trace subresource)
  const watched = $("live-status").dataset.watching || "";
  const where = watched.startsWith("brokers/") ? watched.slice("brokers/".length) : watched;
  row.addEventListener("click", () => {
    const next = row.nextElementSibling;
    if (next && next.classList.contains("data")) return next.remove();
    if (where) lookUp(where, event.id, event.source);
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

// -- event lineage: the broker's or channel's trace subresource (docs/observability.md) ---------

// where to look: "ns/name" is a broker, "channels/ns/name" and "inmemorychannels/ns/name" a
// channel
function lineageOf(where) {
  const parts = where.split("/");
  const [plural, namespace, name] = parts.length === 3 ? parts : ["brokers", ...parts];
  const group = plural === "brokers" ? "eventing.knative.dev" : "messaging.knative.dev";
  const kind = { brokers: "Broker", channels: "Channel", inmemorychannels: "InMemoryChannel" }[plural];
  return {
    plural, namespace, name, label: `${kind} ${namespace}/${name}`,
    path: `/apis/${group}/v1/namespaces/${encodeURIComponent(namespace)}/${plural}/` +
      `${encodeURIComponent(name)}/trace`,
  };
}

const LINEAGE_POLL_MS = 1000;
const LINEAGE_POLLS = 20;
const OUTCOMES = new Set(["delivered", "dead-lettered", "dropped", "kept"]);
let lookups = 0; // counts lookups: what an older one fetches is not drawn
let lookupTimer = null;

export function lookUp(where, id, source) {
  $("lookup-broker").value = where;
  $("lookup-id").value = id;
  $("lookup-source").value = source || "";
  stopLookup();
  $("lineage").replaceChildren();
  $("lineage-status").textContent = `Looking up ${id} in ${lineageOf(where).label}\u2026`;
  delete $("lineage-status").dataset.settled;
  fetchLineage(lookups, lineageOf(where), id, source, 0);
}

export function stopLookup() {
  lookups += 1;
  clearTimeout(lookupTimer);
  lookupTimer = null;
}

async function fetchLineage(current, where, id, source, polls) {
  const started = state.session;
  const stale = () => state.session !== started || current !== lookups;
  const query = new URLSearchParams({ id });
  if (source) query.set("source", source);
  const path = `${where.path}?${query}`;
  let answer;
  try {
    const response = await api(path);
    if (!response.ok) throw new Error(await refusal(response));
    answer = await response.json();
  } catch (err) {
    if (stale()) return;
    if (err instanceof Unauthorized) return expired();
    $("lineage").replaceChildren();
    $("lineage-status").textContent = `Cannot look up ${id} in ${where.label}: ${err.message}`;
    $("lineage-status").dataset.settled = "error";
    return;
  }
  if (stale()) return;
  drawLineage(answer);
  const pending = !settled(answer, where) && polls < LINEAGE_POLLS;
  const found = answer.events.length === 1 ? "1 event" : `${answer.events.length} events`;
  const keeps = (answer.broker || answer.channel).lineage;
  $("lineage-status").textContent = `${where.label}, id ${id}: ${found}` +
    (keeps ? "" : ` (the ${where.plural === "brokers" ? "broker" : "channel"} keeps no ` +
      "lineage: kawa.dev/lineage is off)") +
    (pending ? "; deliveries in flight, refreshing\u2026" : ".");
  $("lineage-status").dataset.settled = pending ? "no" : "yes";
  if (pending) {
    lookupTimer = setTimeout(() => fetchLineage(current, where, id, source, polls + 1),
      LINEAGE_POLL_MS);
  }
}

// whether more is to come: a trigger of the broker has not decided yet, or one that matched
// has no outcome yet; a subscription of the channel has no outcome yet (lineage is written a
// moment after the fact)
function settled(answer, where) {
  const { namespace, name } = where;
  if (where.plural !== "brokers") {
    if (!answer.channel.lineage) return true;
    const kind = where.plural === "channels" ? "Channel" : "InMemoryChannel";
    const subscriptions = [...state.nodes.values()].filter((n) => n.kind === "Subscription"
      && n.obj && n.namespace === namespace && n.obj.spec.channel
      && n.obj.spec.channel.kind === kind && n.obj.spec.channel.name === name).length;
    return answer.events.every((found) => new Set(found.timeline
      .filter((s) => OUTCOMES.has(s.what)).map((s) => s.subscription)).size >= subscriptions);
  }
  if (!answer.broker.lineage) return true;
  const triggers = [...state.nodes.values()].filter((n) => n.kind === "Trigger" && n.obj
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
      if (step.subscription) item.dataset.subscription = step.subscription;
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

function stepClass(step) {
  if (step.what === "filter") return step.matched ? "ok" : "skip";
  if (step.what === "attempt") return step.status >= 200 && step.status < 300 ? "ok" : "bad";
  if (step.what === "delivered") return "ok";
  if (step.what === "dead-lettered" || step.what === "dropped" || step.what === "kept") return "bad";
  return "";
}

// one step as lines of text, as `kawa trace` prints it
function stepLines(step) {
  const trigger = step.subscription !== undefined
    ? `subscription ${step.subscription}` : `trigger ${step.trigger}`;
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
