/**
 * npm `eventsource` 4.1.1 (WHATWG EventSource for Node) on a GET stream. Prints one JSON line per
 * event (`{kind: "event", type, id, data}`), open and error, and `{kind: "done"}` once the stream
 * has brought what it was asked for, then closes.
 *
 *   node eventsource_client.cjs <url> workflow   until a terminal workflow event
 *   node eventsource_client.cjs <url> agui       until RUN_ERROR or a RUN_FINISHED that is not an
 *                                                interrupt (AG-UI frames are `message` events)
 */
"use strict";
const { EventSource } = require("eventsource");

const [url, dialect] = process.argv.slice(2);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const WORKFLOW = [
  "workflow_initialized",
  "step_started",
  "step_completed",
  "artifact",
  "approval_required",
  "approval_resolved",
  "workflow_complete",
  "workflow_error",
  "workflow_aborted",
];

const es = new EventSource(url);
const finish = () => {
  print({ kind: "done" });
  es.close();
  process.exit(0);
};
es.onopen = () => print({ kind: "open" });
es.onerror = (e) => print({ kind: "error", message: e?.message ?? "", code: e?.code ?? null });
if (dialect === "agui") {
  es.onmessage = (e) => {
    const ev = JSON.parse(e.data);
    print({ kind: "event", type: ev.type, id: e.lastEventId, data: ev });
    if (
      ev.type === "RUN_ERROR" || (ev.type === "RUN_FINISHED" && !ev.outcome)
    ) finish();
  };
} else {
  for (const type of WORKFLOW) {
    es.addEventListener(type, (e) => {
      print({
        kind: "event",
        type,
        id: e.lastEventId,
        data: JSON.parse(e.data),
      });
      if (type.startsWith("workflow_") && type !== "workflow_initialized") {
        finish();
      }
    });
  }
}
