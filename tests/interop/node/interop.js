// Interop driver for kawa's CloudEvents HTTP binding and the JavaScript SDK (npm `cloudevents`).
// Run by tests/interop/test_node_sdk.py as a real child process.
//
//   node interop.js send <url>   POST a fixed set of events to <url> (binary and structured
//                                mode, chunked request bodies: no Content-Length) and print one
//                                JSON line {"id", "mode", "status"} per event; exit 1 on any
//                                non-2xx answer.
//   node interop.js receive      listen on 127.0.0.1 (random port), print "listening <port>",
//                                parse every request with HTTP.toEvent and print one JSON line
//                                per event: {"event": <the SDK's structured JSON of it>} (or
//                                {"error": message}); answer 202 (or 400).
"use strict";

const http = require("node:http");
const { CloudEvent, HTTP } = require("cloudevents");

const SOURCE = "/interop/node";
const TYPE = "dev.kawa.interop";

function eventsToSend() {
  return [
    {
      mode: "binary",
      event: new CloudEvent({
        id: "node-binary-json",
        source: SOURCE,
        type: TYPE,
        subject: "hello",
        time: "2024-05-06T07:08:09.123Z",
        datacontenttype: "application/json",
        data: { message: "hi", n: 1, nested: { list: [1, 2, 3] } },
        myext: "value",
        myint: 42,
      }),
    },
    {
      mode: "binary",
      event: new CloudEvent({
        id: "node-binary-text",
        source: SOURCE,
        type: TYPE,
        datacontenttype: "text/plain",
        data: "plain text body",
      }),
    },
    {
      mode: "binary",
      event: new CloudEvent({
        id: "node-binary-large",
        source: SOURCE,
        type: TYPE,
        datacontenttype: "application/json",
        data: { blob: "x".repeat(65536) },
      }),
    },
    {
      mode: "structured",
      event: new CloudEvent({
        id: "node-structured-text",
        source: SOURCE,
        type: TYPE,
        datacontenttype: "text/plain",
        data: "Grüße, world",
        subject: "café",
        myint: 42,
        mybool: true,
      }),
    },
    {
      mode: "structured",
      event: new CloudEvent({
        id: "node-structured-binary",
        source: SOURCE,
        type: TYPE,
        datacontenttype: "application/octet-stream",
        data: new Uint8Array([0, 1, 2, 255]),
      }),
    },
  ];
}

function post(url, message) {
  return new Promise((resolve, reject) => {
    const body = Buffer.isBuffer(message.body) || message.body instanceof Uint8Array
      ? Buffer.from(message.body)
      : Buffer.from(String(message.body), "utf8");
    // No Content-Length: Node sends the body with Transfer-Encoding: chunked.
    const req = http.request(url, { method: "POST", headers: message.headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    const third = Math.max(1, Math.floor(body.length / 3));
    req.write(body.subarray(0, third));
    req.write(body.subarray(third, 2 * third));
    req.end(body.subarray(2 * third));
  });
}

async function send(url) {
  let failed = false;
  for (const { mode, event } of eventsToSend()) {
    const message = mode === "binary" ? HTTP.binary(event) : HTTP.structured(event);
    const status = await post(url, message);
    if (status < 200 || status > 299) failed = true;
    process.stdout.write(JSON.stringify({ id: event.id, mode, status }) + "\n");
  }
  process.exitCode = failed ? 1 : 0;
}

function receive() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const contentType = (req.headers["content-type"] || "").toLowerCase();
      const textual = contentType === "" || contentType.includes("json") || contentType.startsWith("text/");
      const body = textual ? raw.toString("utf8") : raw;
      try {
        const result = HTTP.toEvent({ headers: req.headers, body });
        for (const event of Array.isArray(result) ? result : [result]) {
          const structured = JSON.parse(HTTP.structured(event).body);
          process.stdout.write(JSON.stringify({ event: structured }) + "\n");
        }
        res.writeHead(202);
        res.end();
      } catch (err) {
        const message = err && err.message ? err.message : String(err);
        process.stdout.write(JSON.stringify({ error: message }) + "\n");
        res.writeHead(400);
        res.end(message);
      }
    });
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

const [command, url] = process.argv.slice(2);
if (command === "send" && url) {
  send(url).catch((err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exitCode = 2;
  });
} else if (command === "receive") {
  receive();
} else {
  process.stderr.write("usage: node interop.js send <url> | receive\n");
  process.exitCode = 2;
}
