/** The workflow service's thread table: TTL sweeps and the size cap (no timers involved). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ThreadRecord, ThreadTable } from "../../lib/workflow_service/threads.ts";

const rec = (id: string, status: ThreadRecord["status"], updatedAt: number): ThreadRecord => ({
  id,
  graph: "hotel_o2c",
  status,
  seq: 0,
  updatedAt,
});

describe("ThreadTable", () => {
  it("sweeps finished and waiting threads after their own TTLs, never running ones", () => {
    const table = new ThreadTable({ finishedTtlMs: 100, waitingTtlMs: 1_000 });
    table.add(rec("done", "complete", 0));
    table.add(rec("wait", "waiting", 0));
    table.add(rec("run", "running", 0));
    assert.deepEqual(table.sweep(99), []);
    assert.deepEqual(table.sweep(100), ["done"]);
    assert.deepEqual(table.sweep(999), []);
    assert.deepEqual(table.sweep(10_000), ["wait"]);
    assert.equal(table.get("run")?.status, "running");
    assert.equal(table.size, 1);
  });

  it("makes room by evicting the oldest finished thread before any waiting one", () => {
    const table = new ThreadTable({ maxThreads: 3 });
    table.add(rec("wait-old", "waiting", 1));
    table.add(rec("done-new", "aborted", 5));
    table.add(rec("done-old", "error", 2));
    assert.deepEqual(table.add(rec("a", "running", 9)), ["done-old"]);
    assert.deepEqual(table.add(rec("b", "running", 9)), ["done-new"]);
    assert.deepEqual(table.add(rec("c", "running", 9)), ["wait-old"]);
    assert.equal(table.add(rec("d", "running", 9)), undefined, "all running: refuses");
    assert.deepEqual(table.all().map((t) => t.id).sort(), ["a", "b", "c"]);
  });
});
