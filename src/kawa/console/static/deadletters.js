// A Trigger's dead letters: the events it dead-lettered recently, from its broker's lineage,
// and those kept in kawa's dead-letter store (GET /console/deadletters/...); clicking one
// looks up its lineage.

import { $, Unauthorized, api, expired, key, refusal, state } from "./core.js";
import { lookUp } from "./live.js";

const SHOWN = 20;
let fetches = 0; // what an older fetch (another node, a log-out) gets is not drawn

export function forgetDeadLetters() {
  fetches += 1;
  $("dead-letters").tBodies[0].replaceChildren();
}

// the dead-letter sink a Trigger's deliveries use: its own, else its Broker's
export function deadLetterSink(node) {
  const own = node.obj.spec.delivery && node.obj.spec.delivery.deadLetterSink;
  if (own) return own;
  const broker = state.nodes.get(key("Broker", node.namespace, node.obj.spec.broker || "default"));
  const spec = (broker && broker.obj && broker.obj.spec) || {};
  return (spec.delivery && spec.delivery.deadLetterSink) || null;
}

export async function fetchDeadLetters(node) {
  const current = ++fetches;
  const started = state.session;
  const stale = () => state.session !== started || current !== fetches;
  const broker = node.obj.spec.broker || "default";
  const query = new URLSearchParams({ trigger: node.name, limit: String(SHOWN) });
  const path = `/console/deadletters/namespaces/${encodeURIComponent(node.namespace)}` +
    `/brokers/${encodeURIComponent(broker)}?${query}`;
  let answer;
  try {
    const response = await api(path);
    if (!response.ok) throw new Error(await refusal(response));
    answer = await response.json();
  } catch (err) {
    if (stale()) return;
    if (err instanceof Unauthorized) return expired();
    $("dead-letters").tBodies[0].replaceChildren();
    $("dead-letters-status").textContent = `Cannot read its dead letters: ${err.message}`;
    return;
  }
  if (stale()) return;
  const found = answer.deadLettered;
  $("dead-letters-status").textContent = !answer.broker.lineage && found.length === 0
    ? "Its broker keeps no lineage (kawa.dev/lineage is off): only the dead-letter store's are shown."
    : found.length === 0 ? "None recently." : `The latest ${found.length}, newest first:`;
  const body = $("dead-letters").tBodies[0];
  body.replaceChildren();
  for (const entry of found) {
    const row = body.insertRow();
    const event = entry.event || {};
    row.dataset.id = event.id || "";
    row.dataset.status = String(entry.status ?? "none");
    const time = new Date(entry.at * 1000).toLocaleTimeString(undefined, { hour12: false });
    const answerText = entry.status === null || entry.status === undefined
      ? "no answer" : `HTTP ${entry.status}`;
    for (const value of [time, event.id || `seq ${entry.seq} (trimmed)`, event.type || "",
      answerText + (entry.error ? ` (${entry.error})` : "")]) {
      row.insertCell().textContent = value;
    }
    row.dataset.store = entry.store === undefined ? "" : String(entry.store);
    row.title = entry.deadLetterSink ? `sent to ${entry.deadLetterSink}`
      : entry.store !== undefined
        ? `in kawa's dead-letter store: kawa deadletters show ${entry.store} --broker ${answer.broker.name} -n ${answer.broker.namespace}`
        : "";
    if (event.id) {
      row.addEventListener("click", () => lookUp(`${answer.broker.namespace}/${answer.broker.name}`,
        event.id, event.source));
    }
  }
}
