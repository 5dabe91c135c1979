import assert from "node:assert/strict";
import { StartGate } from "../../lib/gateway/start_gate.ts";

Deno.test("StartGate: free places need no promise; waiters get places in order; close refuses", async () => {
  const gate = new StartGate(2);
  assert.equal(gate.enter(), undefined);
  assert.equal(gate.enter(), undefined);
  const order: number[] = [];
  const waits = [1, 2, 3].map((n) => gate.enter()!.then(() => order.push(n)));
  assert.equal(gate.waiting, 3);
  gate.leave();
  gate.leave();
  await Promise.all(waits.slice(0, 2));
  assert.deepEqual(order, [1, 2]);
  assert.equal(gate.waiting, 1);
  gate.close(new Error("closed"));
  await assert.rejects(waits[2], /closed/);
  await assert.rejects(gate.enter()!, /closed/);
  assert.equal(gate.waiting, 0);
  // Places given back after the close are simply freed.
  gate.leave();
  gate.leave();
  assert.throws(() => new StartGate(0), RangeError);
});
