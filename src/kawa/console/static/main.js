// kawa's web console: plain JavaScript modules, no build step, no library
// (docs/observability.md). This one logs in and out, refreshes the views and wires the page:
// core.js (the token and the API), topology.js, details.js, live.js (live events and
// lineage), services.js.

import { $, TOKEN_KEY, Unauthorized, api, onExpired, state } from "./core.js";
import { closeDetails, forgetNumbers, renderDetails, showFormat } from "./details.js";
import { LIVE_PLURALS, fillLive, lookUp, startLive, stopLive, stopLookup } from "./live.js";
import { drawServices, fetchRevisions } from "./services.js";
import { buildGraph, draw, drawRates, fetchLists } from "./topology.js";

const REFRESH_MS = 5000;
let refreshTimer = null;

// -- the token and the session -----------------------------------------------------------

function tokenFromFragment() {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash) return null;
  const value = new URLSearchParams(hash).get("token");
  // drop the fragment from the address bar and the history
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return value;
}

async function logIn(candidate, fromForm) {
  state.token = candidate;
  try {
    const response = await api("/apis/eventing.knative.dev/v1/brokers?limit=1");
    if (!response.ok) throw new Error(`the API answered ${response.status}`);
  } catch (err) {
    state.token = null;
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
  const started = state.session;
  await refresh();
  if (state.session !== started) return; // logged out while the first refresh ran
  refreshTimer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

function logOut(message) {
  state.session += 1; // what a refresh in flight fetched is not drawn
  stopLive();
  stopLookup();
  $("lineage").replaceChildren();
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(refreshTimer);
  refreshTimer = null;
  state.nodes = new Map();
  forgetNumbers();
  $("topology").replaceChildren();
  $("services").replaceChildren();
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

// -- refreshing the views ------------------------------------------------------------------

async function refresh() {
  if (!state.token) return;
  const started = state.session;
  try {
    const [lists, revisions] = await Promise.all([fetchLists(), fetchRevisions()]);
    if (state.session !== started) return;
    const { graph, edges } = buildGraph(lists);
    state.nodes = graph;
    draw(graph, edges);
    const rates = drawRates(graph, started);
    const items = (kind) => lists.find((l) => l.k.kind === kind).items;
    fillLive(items("Broker"), items("Channel"), items("InMemoryChannel"));
    drawServices(lists.find((l) => l.k.kind === "Service").items, revisions);
    if (state.selected && state.nodes.has(state.selected)) renderDetails(state.nodes.get(state.selected));
    $("topology-error").textContent = "";
    await rates;
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    if (state.session !== started) return;
    if (err instanceof Unauthorized) return logOut("The token is no longer valid.");
    $("topology-error").textContent = `Cannot read the topology: ${err.message}`;
  }
}

// -- wiring --------------------------------------------------------------------------------------

onExpired(logOut);

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    logIn($("token").value.trim(), true);
  });
  $("logout").addEventListener("click", () => logOut("Logged out."));
  $("refresh").addEventListener("click", refresh);
  $("close-details").addEventListener("click", closeDetails);
  $("show-yaml").addEventListener("click", () => showFormat("yaml"));
  $("show-json").addEventListener("click", () => showFormat("json"));
  $("watch-broker").addEventListener("click", () => {
    const node = state.nodes.get(state.selected);
    $("live-broker").value = `${LIVE_PLURALS[node.kind]}/${node.namespace}/${node.name}`;
    startLive();
  });
  $("live-form").addEventListener("submit", (ev) => { ev.preventDefault(); startLive(); });
  $("live-stop").addEventListener("click", stopLive);
  $("lookup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const broker = $("lookup-broker").value;
    if (!broker) {
      $("lineage-status").textContent = "No broker or channel to look in.";
      return;
    }
    lookUp(broker, $("lookup-id").value.trim(), $("lookup-source").value.trim());
  });
  const given = tokenFromFragment() || sessionStorage.getItem(TOKEN_KEY);
  if (given) logIn(given, false);
  else showLogin("");
});
