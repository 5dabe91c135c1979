import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ThreadRow, ThreadStore } from "../../lib/workflow_service/thread_store.ts";
import { busyRetryingKv } from "../../lib/workflow_service/kv_retry.ts";

const row = (id: string): ThreadRow => ({
  id,
  graph: "hotel_o2c",
  status: "running",
  seq: 0,
  first: 1,
  owner: "p1",
  updatedAt: 0,
});
const ev = (type: string, n = 1) =>
  Array.from({ length: n }, (_, i) => ({ type, data: JSON.stringify({ i }) }));

async function withKv(fn: (kv: Deno.Kv) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv);
  } finally {
    kv.close();
  }
}

describe("ThreadStore", () => {
  it("numbers events 1, 2, … across appends and keeps only the last `retention`", () =>
    withKv(async (kv) => {
      const store = new ThreadStore(kv, { retention: 4 });
      let cur = (await store.create(row("a"), ev("workflow_initialized")))!.versioned;
      for (let i = 0; i < 3; i++) cur = (await store.append(cur, ev("step_started", 2)))!.versioned;
      assert.equal(cur.row.seq, 7);
      assert.equal(cur.row.first, 4);
      assert.deepEqual((await store.events("a", 0)).map((e) => e.id), [4, 5, 6, 7]);
      assert.deepEqual((await store.events("a", 5)).map((e) => e.id), [6, 7]);
      assert.equal((await store.get("a"))!.row.seq, 7);
    }));

  it("refuses a second create and a write from a stale read (versionstamp check)", () =>
    withKv(async (kv) => {
      const store = new ThreadStore(kv);
      const cur = (await store.create(row("b"), ev("workflow_initialized")))!.versioned;
      assert.equal(await store.create(row("b"), ev("workflow_initialized")), undefined);
      const next = await store.append(cur, ev("step_started"), { owner: "p2" });
      assert.ok(next);
      assert.equal(await store.append(cur, ev("step_started")), undefined);
      assert.deepEqual((await store.events("b", 0)).map((e) => e.type), [
        "workflow_initialized",
        "step_started",
      ]);
      assert.equal((await store.get("b"))!.row.owner, "p2");
    }));

  it("expires finished and waiting threads after their own TTLs, never running ones", () =>
    withKv(async (kv) => {
      let now = 1_000;
      const store = new ThreadStore(kv, {
        finishedTtlMs: 100,
        waitingTtlMs: 1_000,
        now: () => now,
      });
      const done = (await store.create(row("done"), ev("x")))!.versioned;
      await store.append(done, ev("workflow_complete"), { status: "complete", owner: undefined });
      const wait = (await store.create(row("wait"), ev("x")))!.versioned;
      await store.append(wait, ev("approval_required"), { status: "waiting" });
      await store.create(row("run"), ev("x"));
      now += 100;
      assert.equal(await store.get("done"), undefined);
      assert.ok(await store.get("wait"));
      assert.deepEqual(await store.sweep(), ["done"]);
      assert.deepEqual(await store.events("done", 0), []);
      now += 900;
      assert.deepEqual(await store.sweep(), ["wait"]);
      now += 1_000_000;
      assert.equal((await store.get("run"))!.row.status, "running");
      assert.deepEqual((await store.list()).map((r) => r.id), ["run"]);
    }));

  it("a thread that moves on is not swept at its old expiry", () =>
    withKv(async (kv) => {
      let now = 0;
      const store = new ThreadStore(kv, { finishedTtlMs: 100, waitingTtlMs: 50, now: () => now });
      let cur = (await store.create(row("m"), ev("x")))!.versioned;
      cur = (await store.append(cur, ev("approval_required"), { status: "waiting" }))!.versioned;
      now = 40;
      await store.append(cur, ev("approval_resolved"), { status: "running" });
      now = 60;
      assert.deepEqual(await store.sweep(), []);
      assert.equal((await store.get("m"))!.row.seq, 3);
    }));

  it("keeps the step journal and the process leases", () =>
    withKv(async (kv) => {
      const store = new ThreadStore(kv);
      const cur = (await store.create(row("j"), ev("x")))!.versioned;
      await store.append(cur, ev("step_completed"), {}, [
        { step: "reservation", entry: { done: true, result: { a: 1 } } },
      ]);
      assert.deepEqual(
        await store.steps("j"),
        new Map([["reservation", { done: true, result: { a: 1 } }]]),
      );
      await store.setAlive("p1", Date.now() + 60_000);
      assert.equal(await store.isAlive("p1"), true);
      await store.setAlive("p1", Date.now() - 1);
      assert.equal(await store.isAlive("p1"), false);
      await store.setAlive("p1", Date.now() + 60_000);
      await store.release("p1");
      assert.equal(await store.isAlive("p1"), false);
      assert.equal(await store.isAlive("never"), false);
    }));
});

describe("busyRetryingKv", () => {
  it("commits an atomic write again, rebuilt, after SQLite refused it as locked", () =>
    withKv(async (real) => {
      let refusals = 2;
      // Fault injection: the first commits of a real KV fail as a locked file would.
      const flaky = new Proxy(real, {
        get(target, prop) {
          if (prop === "atomic") {
            return () => {
              const op = target.atomic();
              const commit = op.commit.bind(op);
              op.commit = () =>
                refusals-- > 0 ? Promise.reject(new TypeError("database is locked")) : commit();
              return op;
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      });
      const kv = busyRetryingKv(flaky);
      const res = await kv.atomic().check({ key: ["k"], versionstamp: null }).set(["k"], 1)
        .commit();
      assert.equal(res.ok, true);
      assert.equal(refusals, -1);
      assert.equal((await real.get(["k"])).value, 1);
      // A failed check is an answer, not an error: no retry.
      const again = await kv.atomic().check({ key: ["k"], versionstamp: null }).set(["k"], 2)
        .commit();
      assert.equal(again.ok, false);
      assert.equal((await real.get(["k"])).value, 1);
    }));

  it("does not retry other errors", () =>
    withKv(async (real) => {
      const kv = busyRetryingKv(real);
      await assert.rejects(kv.set(["big"], "x".repeat(70_000)));
    }));
});
