/**
 * `@microsoft/fetch-event-source` 2.0.1 in Node, used as its README shows: POST a JSON body,
 * retry after errors (it re-sends the same body with `last-event-id`). Prints one JSON line per
 * dispatched message (`{kind: "message", id, event, data}`, empty ones included), per open
 * (`{kind: "open", status, workflowId}`) and per error, then `{kind: "done"}` after a terminal
 * workflow event, or `{kind: "refused", status, body}` when the gateway answers with JSON.
 *
 *   node fetch_event_source_client.cjs <url> <json body>
 */
"use strict";
// fetch-event-source reads `window` and `document` (page visibility) even with openWhenHidden.
globalThis.window = globalThis;
globalThis.document = {
  hidden: false,
  addEventListener() {},
  removeEventListener() {},
};
const { fetchEventSource } = require("@microsoft/fetch-event-source");

const [url, body] = process.argv.slice(2);
const TERMINAL = new Set([
  "workflow_complete",
  "workflow_error",
  "workflow_aborted",
]);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

class Fatal extends Error {}

async function main() {
  const stop = new AbortController();
  let done = false;
  await fetchEventSource(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal: stop.signal,
    openWhenHidden: true,
    async onopen(res) {
      print({
        kind: "open",
        status: res.status,
        workflowId: res.headers.get("x-workflow-id"),
      });
      if (
        res.ok &&
        res.headers.get("content-type")?.startsWith("text/event-stream")
      ) return;
      print({
        kind: "refused",
        status: res.status,
        body: await res.json().catch(() => null),
      });
      throw new Fatal(`HTTP ${res.status}`);
    },
    onmessage(ev) {
      print({ kind: "message", id: ev.id, event: ev.event, data: ev.data });
      if (TERMINAL.has(ev.event)) {
        done = true;
        stop.abort();
      }
    },
    onclose() {
      // A stream that ends before its run did is a drop: retry it.
      if (!done) throw new Error("stream closed before the run ended");
    },
    onerror(err) {
      if (err instanceof Fatal) throw err;
      print({ kind: "error", message: String(err?.message ?? err) });
      return 100;
    },
  });
  print({ kind: done ? "done" : "stopped" });
}

main().then(() => process.exit(0), (err) => {
  if (!(err instanceof Fatal)) {
    process.stderr.write(String(err?.stack ?? err) + "\n");
  }
  print({ kind: "end" });
  process.exit(err instanceof Fatal ? 0 : 1);
});
