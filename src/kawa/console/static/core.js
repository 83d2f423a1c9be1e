// What the console's modules share: the page's elements, the token and the API, the session.
// The token lives in this tab's sessionStorage only; every request carries it as
// "Authorization: Bearer". Data from the API is only ever put in the page as text.

export const TOKEN_KEY = "kawa-console-token";

export const $ = (id) => document.getElementById(id);

// the page's state the modules share
export const state = {
  token: null,
  session: 0, // counts log-outs: work started before one is dropped
  nodes: new Map(), // the topology's nodes by key(kind, namespace, name)
  selected: null, // the key of the node whose details are shown
};

export class Unauthorized extends Error {}

// what to do when the API refuses the token (main.js logs out)
const hooks = { expired: () => {} };

export function onExpired(handler) {
  hooks.expired = handler;
}

export function expired() {
  hooks.expired("The token is no longer valid.");
}

export async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  headers.Authorization = "Bearer " + state.token;
  const response = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
  if (response.status === 401) throw new Unauthorized();
  return response;
}

// what an API answer that is not OK says (a Kubernetes Status carries a message)
export async function refusal(response) {
  try {
    return (await response.json()).message || `the API answered ${response.status}`;
  } catch (_) {
    return `the API answered ${response.status}`; // not JSON
  }
}

// a list as kubectl gets it; a kind kawa does not serve is empty
export async function list(path) {
  const response = await api(path);
  if (response.status === 404) return [];
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return (await response.json()).items || [];
}

export function el(tag, className, parent) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  parent.appendChild(made);
  return made;
}

export function readyOf(obj) {
  const conditions = (obj.status && obj.status.conditions) || [];
  const ready = conditions.find((c) => c.type === "Ready");
  if (!ready) return "none";
  return { True: "ready", False: "failed" }[ready.status] || "unknown";
}

export function key(kind, namespace, name) {
  return `${kind}/${namespace || ""}/${name}`;
}
