// The Services view: each Knative Service with its Revisions, the traffic split its status
// reports (status.traffic), Ready, and each Revision's instances (its status's actual and
// desired replicas), from the lists kubectl gets.

import { $, el, list, readyOf } from "./core.js";

export const REVISIONS = "/apis/serving.knative.dev/v1/revisions";
const SERVICE_LABEL = "serving.knative.dev/service";
const GENERATION_LABEL = "serving.knative.dev/configurationGeneration";
const READY_TEXT = { ready: "True", failed: "False", unknown: "Unknown", none: "no condition" };

export async function fetchRevisions() {
  return list(REVISIONS);
}

// the traffic of each revision: its percent and tags, from the Service's status
export function trafficByRevision(service) {
  const shares = new Map();
  for (const target of (service.status && service.status.traffic) || []) {
    if (!target.revisionName) continue;
    const share = shares.get(target.revisionName) || { percent: 0, tags: [] };
    share.percent += Number(target.percent || 0);
    if (target.tag) share.tags.push(target.tag);
    if (target.latestRevision) share.latest = true;
    shares.set(target.revisionName, share);
  }
  return shares;
}

function generation(revision) {
  return Number((revision.metadata.labels || {})[GENERATION_LABEL] || 0);
}

function count(value) {
  return value === undefined || value === null ? "\u2013" : String(value);
}

export function drawServices(services, revisions) {
  const root = $("services");
  root.replaceChildren();
  $("services-empty").hidden = services.length > 0;
  const sorted = [...services].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  for (const service of sorted) {
    const meta = service.metadata;
    const block = el("div", "service", root);
    block.dataset.namespace = meta.namespace;
    block.dataset.name = meta.name;
    const ready = readyOf(service);
    block.dataset.ready = ready;
    const title = el("h3", "", block);
    el("span", `dot ${ready}`, title);
    el("span", "", title).textContent = `Service ${meta.namespace}/${meta.name}`;
    const status = service.status || {};
    el("p", "muted", block).textContent = `Ready: ${READY_TEXT[ready]}` +
      (status.url ? ` \u00b7 ${status.url}` : "") +
      (status.latestReadyRevisionName ? ` \u00b7 latest ready ${status.latestReadyRevisionName}` : "");
    const shares = trafficByRevision(service);
    const own = revisions.filter((r) => r.metadata.namespace === meta.namespace
      && (r.metadata.labels || {})[SERVICE_LABEL] === meta.name);
    own.sort((a, b) => generation(b) - generation(a) || a.metadata.name.localeCompare(b.metadata.name));
    // a revision the traffic names but the list lacks (deleted) is still shown
    const listed = new Set(own.map((r) => r.metadata.name));
    const rows = own.map((r) => ({ name: r.metadata.name, revision: r }))
      .concat([...shares.keys()].filter((n) => !listed.has(n)).map((name) => ({ name, revision: null })));
    const table = el("table", "revisions", block);
    const head = table.createTHead().insertRow();
    for (const label of ["Revision", "Ready", "Traffic", "Instances (actual / desired)"]) {
      const th = document.createElement("th");
      th.textContent = label;
      head.appendChild(th);
    }
    const body = table.createTBody();
    if (rows.length === 0) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = 4;
      cell.className = "muted";
      cell.textContent = "No revisions yet.";
    }
    for (const { name, revision } of rows) {
      const row = body.insertRow();
      row.dataset.revision = name;
      const share = shares.get(name);
      const revStatus = (revision && revision.status) || {};
      const cells = {
        revision: name,
        ready: revision ? READY_TEXT[readyOf(revision)] : "not listed",
        traffic: share ? `${share.percent}%` + (share.tags.length ? ` (${share.tags.join(", ")})` : "")
          + (share.latest ? " latest" : "") : "0%",
        instances: `${count(revStatus.actualReplicas)} / ${count(revStatus.desiredReplicas)}`,
      };
      for (const [column, value] of Object.entries(cells)) {
        const cell = row.insertCell();
        cell.dataset.column = column;
        cell.textContent = value;
      }
      if (revision) row.cells[1].className = readyOf(revision);
    }
  }
}
