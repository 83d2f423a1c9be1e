"""The cloudevents-player's page: the Create Event form and the activity list.

Rendered on the server (so it works without JavaScript: the form posts to ``/messages`` and
comes back); a small script refreshes the list from ``GET /messages`` every two seconds and
shows an event's JSON when its row is clicked. Pure string building; used by
:mod:`kawa.samples.cloudevents_player`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

ICONS: Final = {
    "SENT": "&#x27A4; sent",
    "RECEIVED": "&#x2709; received",
    "FAILED": "&#x2716; failed",
}

_STYLE: Final = """
body { font-family: sans-serif; margin: 2em; color: #222; }
main { display: flex; gap: 3em; flex-wrap: wrap; }
form { display: grid; grid-template-columns: max-content 22em; gap: .5em 1em; }
label { align-self: center; }
textarea { height: 6em; font-family: monospace; }
table { border-collapse: collapse; }
td, th { padding: .25em .75em; border-bottom: 1px solid #ddd; text-align: left; }
tr.FAILED { color: #b00; }
tr { cursor: pointer; }
pre { background: #f4f4f4; padding: 1em; max-width: 50em; overflow: auto; }
"""

_SCRIPT: Final = """
// The page may be served under a prefix (kawa's /serving/<ns>/<service>) without a final
// "/": relative URLs are then resolved from the prefix itself.
const here = location.pathname;
const base = here.endsWith("/") ? "" : here.split("/").pop() + "/";
document.getElementById("create").action = base + "messages";
const rows = document.getElementById("activity");
const detail = document.getElementById("detail");
const icons = %ICONS%;
function esc(s) {
  const named = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"};
  return String(s ?? "").replace(/[&<>"]/g, c => named[c]);
}
async function refresh() {
  try {
    const messages = await (await fetch(base + "messages?size=200")).json();
    rows.innerHTML = messages.map((m, i) =>
      `<tr class="${esc(m.type)}" data-i="${i}"><td>${icons[m.type] || esc(m.type)}</td>` +
      `<td>${esc(m.id)}</td><td>${esc(m.eventType)}</td><td>${esc(m.source)}</td>` +
      `<td>${esc(m.receivedAt)}</td></tr>`).join("");
    rows.onclick = e => {
      const row = e.target.closest("tr");
      if (row) detail.textContent = JSON.stringify(messages[row.dataset.i].event, null, 2);
    };
  } catch (e) { /* the player restarted; try again */ }
}
setInterval(refresh, 2000);
refresh();
"""


def _row(message: Mapping[str, Any]) -> str:
    kind = str(message.get("type", ""))
    cells = (
        ICONS.get(kind, escape(kind)),
        escape(str(message.get("id", ""))),
        escape(str(message.get("eventType", ""))),
        escape(str(message.get("source", ""))),
        escape(str(message.get("receivedAt", ""))),
    )
    return f'<tr class="{escape(kind)}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def render(sink: str, messages: Sequence[Mapping[str, Any]]) -> str:
    """The whole page, listing ``messages`` (newest first) and naming the ``sink``."""
    where = escape(sink) if sink else "nowhere yet: set BROKER_URL, or bind a sink (K_SINK)"
    script = _SCRIPT.replace("%ICONS%", json.dumps(ICONS))
    rows = "".join(_row(m) for m in messages)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>CloudEvents Player</title>
<style>{_STYLE}</style></head>
<body>
<h1>CloudEvents Player</h1>
<p>Events are sent to: <code>{where}</code></p>
<main>
<section>
<h2>Create Event</h2>
<form id="create" method="post" action="messages">
<label for="id">Event ID</label><input id="id" name="id" value="{uuid.uuid4()}" required>
<label for="type">Event Type</label><input id="type" name="type" required
  placeholder="dev.example.events">
<label for="source">Event Source</label><input id="source" name="source" required
  placeholder="cloudevents-player">
<label for="specversion">Specversion</label><select id="specversion" name="specversion">
  <option>1.0</option><option>0.3</option></select>
<label for="subject">Subject</label><input id="subject" name="subject">
<label for="message">Message</label><textarea id="message" name="message"
  placeholder='{{"message": "Hello CloudEvents!"}}'></textarea>
<label for="mode">Mode</label><select id="mode" name="mode">
  <option value="binary">binary</option><option value="structured">structured</option></select>
<span></span><button type="submit">Send event</button>
</form>
</section>
<section>
<h2>Activity</h2>
<table><thead><tr><th>Status</th><th>ID</th><th>Type</th><th>Source</th><th>Time</th></tr>
</thead><tbody id="activity">{rows}</tbody></table>
<pre id="detail">Click an event to see it.</pre>
</section>
</main>
<script>{script}</script>
</body></html>
"""
