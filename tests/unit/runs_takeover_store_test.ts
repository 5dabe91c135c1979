/**
 * What takeover needs from the run log, on a real Deno KV (a temp file opened twice acts as two
 * processes): the last upstream id committed with its page, the index of running runs, the
 * compare-and-set claim of a run (exactly one of two concurrent claims wins) and the fence that
 * stops a relay whose run was taken over.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RunSummary } from "../../lib/events.ts";
import {
  openKvRunStore,
  RelayFencedError,
  type RunStore,
  UnexpectedStateError,
} from "../../lib/runs/mod.ts";
import { runningOf, runningOwners } from "../../lib/runs/kv_list.ts";
import { runSummary } from "../fixtures/runs.ts";

function summary(id: string, owner: string): RunSummary {
  return runSummary(id, { relay: { owner, leaseUntil: Date.now() + 1000 } });
}

const ev = (type: string, step: string, upstreamId?: string) => ({
  type,
  data: JSON.stringify({ workflowId: "r", ts: "t", step }),
  ...(upstreamId !== undefined ? { upstreamId } : {}),
});

/** The ids of the running runs `owner` relays, sorted. */
async function ids(store: RunStore, owner: string): Promise<string[]> {
  const out: string[] = [];
  for await (const id of store.runningOf(owner)) out.push(id);
  return out.sort();
}

/** The KV file behind the stores of {@link twoProcesses}. */
const paths = new WeakMap<RunStore, string>();
const kvPathOf = (store: RunStore): string => paths.get(store)!;

async function twoProcesses() {
  const dir = await Deno.makeTempDir({ prefix: "takeover_store_" });
  const path = `${dir}/runs.kv`;
  const a = await openKvRunStore({ path, ttlHours: 1, pollMs: 0 });
  const b = await openKvRunStore({ path, ttlHours: 1, pollMs: 0 });
  paths.set(a, path);
  paths.set(b, path);
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

describe("run log support for takeover", () => {
  it("commits the last upstream id with its events; events without one keep it", async () => {
    const { a, b, close } = await twoProcesses();
    try {
      await a.create(summary("r1", "A"));
      assert.equal((await b.get("r1"))!.lastUpstreamId, undefined);
      await a.append("r1", [ev("step_started", "x", "1"), ev("step_completed", "x", "2")]);
      assert.equal((await b.get("r1"))!.lastUpstreamId, "2");
      // A gateway-made event (no upstream id) leaves the mark where it was.
      await a.append("r1", [ev("approval_resolved", "gate")]);
      const s = (await b.get("r1"))!;
      assert.equal(s.lastUpstreamId, "2");
      assert.equal(s.eventCount, 3);
      // A patch cannot move it: only logged events do.
      await a.update("r1", { lastUpstreamId: "99" });
      assert.equal((await b.get("r1"))!.lastUpstreamId, "2");
    } finally {
      await close();
    }
  });

  it("indexes exactly the runs whose status is running, under their relay", async () => {
    const { a, b, close } = await twoProcesses();
    try {
      await a.create(summary("run-a", "A"));
      await a.create(summary("run-b", "A"));
      await a.create({ ...summary("run-c", "A"), status: "waiting_approval" });
      await a.create({ ...runSummary("run-d"), relay: undefined });
      assert.deepEqual(await b.runningOwners(), ["", "A"]);
      assert.deepEqual(await ids(b, "A"), ["run-a", "run-b"]);
      assert.deepEqual(await ids(b, ""), ["run-d"]);
      await a.update("run-a", { status: "waiting_approval" });
      assert.deepEqual(await ids(b, "A"), ["run-b"]);
      // A decision claims the gate and the relay at once: the index names the new relay.
      await a.update("run-a", { status: "running", relay: { owner: "B", leaseUntil: 1 } });
      await a.append("run-b", [{ type: "workflow_complete", data: "{}" }], {
        status: "complete",
      });
      await a.append("run-d", [{ type: "workflow_error", data: "{}" }], { status: "error" });
      assert.deepEqual(await b.runningOwners(), ["B"]);
      assert.deepEqual(await ids(b, "B"), ["run-a"]);
      assert.deepEqual(await ids(b, "A"), []);
      // A takeover moves only the relay (through the head's write): the index follows.
      await b.update("run-a", { relay: { owner: "C", leaseUntil: 1 } });
      assert.deepEqual(await a.runningOwners(), ["C"]);
      await b.append("run-a", [ev("step_started", "x")], undefined, { relayOwner: "C" });
      assert.deepEqual(await ids(a, "C"), ["run-a"]);
    } finally {
      await close();
    }
  });

  it("reads one key per owner however many runs each relays", async () => {
    const { a, b, close } = await twoProcesses();
    try {
      for (const owner of ["A", "B", "C"]) {
        for (let i = 0; i < 300; i++) await a.create(summary(`${owner}-${i}`, owner));
      }
      const kv = await Deno.openKv(kvPathOf(b));
      const list = kv.list.bind(kv);
      let read = 0;
      // Counts the entries the store's listing yields, through the same KV file.
      const counting = Object.assign(Object.create(kv), {
        list: (sel: Deno.KvListSelector, opts?: Deno.KvListOptions) => {
          const iter = list(sel, opts);
          return {
            next: async () => {
              const r = await iter.next();
              if (!r.done) read++;
              return r;
            },
            [Symbol.asyncIterator]() {
              return this;
            },
          };
        },
      }) as Deno.Kv;
      assert.deepEqual(await runningOwners(counting), ["A", "B", "C"]);
      assert.equal(read, 3);
      let all = 0;
      for await (const _ of runningOf(counting, "B")) all++;
      assert.equal(all, 300);
      kv.close();
    } finally {
      await close();
    }
  });

  it("still lists what the older index holds, and each index write retires its entry", async () => {
    const { a, b, close } = await twoProcesses();
    try {
      await a.create(summary("new-1", "A"));
      await a.create(summary("old-1", "A"));
      const kv = await Deno.openKv(kvPathOf(b));
      // Written by a gateway of before the owner-keyed index, in a rolling deploy.
      await kv.delete(["runs_running_by", "A", "old-1"]);
      await kv.set(["runs_running", "old-1"], "OLD");
      await kv.set(["runs_running", "old-2"], "A");
      assert.deepEqual(await b.runningOwners(), ["A", "OLD"]);
      assert.deepEqual(await ids(b, "A"), ["new-1", "old-2"]);
      assert.deepEqual(await ids(b, "OLD"), ["old-1"]);
      await a.update("old-1", { relay: { owner: "B", leaseUntil: 1 } });
      assert.equal((await kv.get(["runs_running", "old-1"])).versionstamp, null);
      assert.deepEqual(await ids(b, "B"), ["old-1"]);
      kv.close();
    } finally {
      await close();
    }
  });

  it("of two processes claiming a run at once, exactly one wins", async () => {
    const { a, b, close } = await twoProcesses();
    try {
      await a.create(summary("r2", "dead"));
      for (let round = 0; round < 5; round++) {
        const from = round === 0 ? "dead" : (await a.get("r2"))!.relay!.owner;
        const claim = (store: typeof a, me: string) =>
          store.update("r2", { relay: { owner: me, leaseUntil: Date.now() + 1000 } }, {
            expect: (s) => s.status === "running" && s.relay?.owner === from,
          }).then(() => me, (err) => {
            assert.ok(err instanceof UnexpectedStateError, String(err));
            return null;
          });
        const won = (await Promise.all([claim(a, `A${round}`), claim(b, `B${round}`)]))
          .filter((w) => w !== null);
        assert.equal(won.length, 1, `round ${round}: ${won}`);
        assert.equal((await a.get("r2"))!.relay!.owner, won[0]);
      }
    } finally {
      await close();
    }
  });

  it("fences the old relay: its appends fail once another process took the run", async () => {
    const { a, b, close } = await twoProcesses();
    try {
      await a.create(summary("r3", "A"));
      // A appends with a warm cache, then B claims the run behind A's back.
      await a.append("r3", [ev("step_started", "x", "1")], undefined, { relayOwner: "A" });
      await b.update("r3", { relay: { owner: "B", leaseUntil: Date.now() + 1000 } });
      await assert.rejects(
        a.append("r3", [ev("step_completed", "x", "2")], undefined, { relayOwner: "A" }),
        (err) => err instanceof RelayFencedError && err.owner === "B",
      );
      assert.equal((await b.get("r3"))!.eventCount, 1, "nothing was written");
      const stored = await b.append("r3", [ev("step_completed", "x", "2")], undefined, {
        relayOwner: "B",
      });
      assert.deepEqual(stored.map((e) => e.seq), [2]);
      assert.equal((await a.get("r3"))!.lastUpstreamId, "2");
    } finally {
      await close();
    }
  });
});
