/**
 * Group commit: appends submitted while a commit is in flight share the next atomic operation,
 * and a shared operation whose check fails is retried member by member, each getting its own
 * answer. Also end to end through the KV store: concurrent appends of many runs take fewer
 * commits than runs, and every run's log is exact.
 */
import assert from "node:assert/strict";
import { afterIo, GroupCommitter } from "../../lib/runs/group_commit.ts";
import { KvRunStore } from "../../lib/runs/kv_store.ts";
import type { RunSummary } from "../../lib/events.ts";

function contribution(key: string, versionstamp: string | null, value: number) {
  return {
    checks: [{ key: [key], versionstamp }],
    apply: (op: Deno.AtomicOperation) => void op.set([key], value),
    mutations: 1,
    bytes: 64,
    keyBytes: 16,
  };
}

/**
 * A KV in memory that counts its commits; `onSet` sees every key set, with the number the
 * commit carrying it will have.
 */
async function countingKv(onSet?: (key: Deno.KvKey, commit: number) => void) {
  const kv = await Deno.openKv(":memory:");
  const counted = { kv, commits: 0 };
  const realAtomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = realAtomic();
    const set = op.set.bind(op);
    op.set = (key, value, options) => {
      onSet?.(key, counted.commits + 1);
      return set(key, value, options);
    };
    const commit = op.commit.bind(op);
    op.commit = () => {
      counted.commits++;
      return commit();
    };
    return op;
  };
  return counted;
}

/** Creates runs `run0` … `run{n-1}` in `store`; their ids. */
async function createRuns(store: KvRunStore, n: number): Promise<string[]> {
  const now = new Date().toISOString();
  const ids = Array.from({ length: n }, (_, i) => `run${i}`);
  for (const id of ids) {
    const summary: RunSummary = {
      id,
      graph: "g",
      dialect: "workflow",
      status: "running",
      createdAt: now,
      updatedAt: now,
      eventCount: 0,
    };
    assert.equal(await store.create(summary), true);
  }
  return ids;
}

Deno.test("submits made during a commit share one operation", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let commits = 0;
    const gc = new GroupCommitter({
      atomic: () => kv.atomic(),
      commit: (build) => {
        commits++;
        return build().commit();
      },
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gc.submit(contribution(`k${i}`, null, i))),
    );
    assert.ok(results.every((r) => r.ok));
    // The first goes alone (nothing was waiting); the 19 others queue behind it and go together.
    assert.equal(commits, 2);
    const got = await kv.getMany(Array.from({ length: 10 }, (_, i) => [`k${i}`]));
    assert.deepEqual(got.map((e) => e.value), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  } finally {
    kv.close();
  }
});

Deno.test("a failed check in a shared operation fails only its own member", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(["taken"], 1);
    const gc = new GroupCommitter({ atomic: () => kv.atomic(), commit: (b) => b().commit() });
    const first = gc.submit(contribution("a0", null, 0));
    const rest = [
      gc.submit(contribution("a1", null, 1)),
      gc.submit(contribution("taken", null, 2)), // expects absent: fails
      gc.submit(contribution("a3", null, 3)),
    ];
    const results = await Promise.all([first, ...rest]);
    assert.deepEqual(results.map((r) => r.ok), [true, true, false, true]);
    assert.equal((await kv.get(["taken"])).value, 1);
    assert.equal((await kv.get(["a3"])).value, 3);
    assert.equal(gc.stats.splits, 1);
  } finally {
    kv.close();
  }
});

Deno.test("enqueued members share operations with submits and are told their outcome", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(["taken"], 1);
    let commits = 0;
    const gc = new GroupCommitter({
      atomic: () => kv.atomic(),
      commit: (b) => {
        commits++;
        return b().commit();
      },
    });
    const told: Array<[string, boolean | "threw"]> = [];
    const both = Promise.withResolvers<void>();
    const tell = (entry: [string, boolean | "threw"]) => {
      told.push(entry);
      if (told.length === 2) both.resolve();
    };
    const member = (key: string) => ({
      c: contribution(key, null, 7),
      settle: (r: Deno.KvCommitResult | Deno.KvCommitError) => tell([key, r.ok]),
      fail: () => tell([key, "threw"]),
    });
    const first = gc.submit(contribution("s0", null, 0));
    gc.enqueue(member("e1"));
    const second = gc.submit(contribution("s1", null, 1));
    gc.enqueue(member("taken")); // expects absent: its own check fails, the others commit
    assert.deepEqual(told, [], "never told from inside enqueue");
    assert.equal(gc.busy, true, "busy while members wait");
    assert.deepEqual((await Promise.all([first, second])).map((r) => r.ok), [true, true]);
    await both.promise;
    assert.deepEqual(told, [["e1", true], ["taken", false]]);
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(gc.busy, false, "idle once the queue is empty");
    assert.equal((await kv.get(["e1"])).value, 7);
    assert.equal((await kv.get(["taken"])).value, 1);
    // The first alone; e1, s1 and "taken" together (then split, each on its own).
    assert.equal(gc.stats.splits, 1);
    assert.equal(commits, 2 + 3);
  } finally {
    kv.close();
  }
});

Deno.test("limits split the queue into several operations", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let commits = 0;
    const gc = new GroupCommitter({
      atomic: () => kv.atomic(),
      commit: (b) => {
        commits++;
        return b().commit();
      },
      limits: { checks: 4, mutations: 100, bytes: 1e6, keyBytes: 1e6 },
    });
    const results = await Promise.all(
      Array.from({ length: 9 }, (_, i) => gc.submit(contribution(`m${i}`, null, i))),
    );
    assert.ok(results.every((r) => r.ok));
    // 1 alone, then 8 waiting at 4 checks per operation: 2 more.
    assert.equal(commits, 3);
  } finally {
    kv.close();
  }
});

Deno.test("a submit marked first goes ahead of what waits without the mark", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let commits = 0;
    const carried: string[][] = [];
    const gc = new GroupCommitter({
      atomic: () => kv.atomic(),
      commit: (b) => {
        carried[commits++] = [];
        return b().commit();
      },
      limits: { checks: 4, mutations: 100, bytes: 1e6, keyBytes: 1e6 },
    });
    const tracked = (key: string) => {
      const c = contribution(key, null, 0);
      return {
        ...c,
        apply: (op: Deno.AtomicOperation) => (carried[commits - 1].push(key), c.apply(op)),
      };
    };
    const all = [gc.submit(tracked("busy"))];
    for (let i = 0; i < 6; i++) all.push(gc.submit(tracked(`e${i}`)));
    all.push(gc.submit(tracked("create1"), true), gc.submit(tracked("create2"), true));
    assert.ok((await Promise.all(all)).every((r) => r.ok));
    assert.deepEqual(carried, [
      ["busy"],
      ["create1", "create2", "e0", "e1"],
      ["e2", "e3", "e4", "e5"],
    ]);
  } finally {
    kv.close();
  }
});

Deno.test("KV store: concurrent appends of many runs share commits and stay exact", async () => {
  const counted = await countingKv();
  const store = new KvRunStore(counted.kv, { ttlHours: 1, watch: false, ownsKv: true });
  try {
    const ids = await createRuns(store, 30);
    counted.commits = 0;
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        ids.map((id) => store.append(id, [{ type: "step_started", data: `{"r":${round}}` }])),
      );
    }
    const { commits } = counted;
    assert.ok(commits < ids.length * 3 / 2, `expected shared commits, got ${commits}`);
    for (const id of ids) {
      const events = await store.read(id, 0);
      assert.deepEqual(events.map((e) => [e.seq, e.data]), [
        [1, '{"r":0}'],
        [2, '{"r":1}'],
        [3, '{"r":2}'],
      ]);
      assert.equal((await store.get(id))?.eventCount, 3);
    }
  } finally {
    await store.close();
  }
});

Deno.test("KV store: an append marked first commits ahead of a queue of other runs' appends", async () => {
  // Which commit carried each run's append (the last write of its head; a one-event append
  // goes into the head, no page row).
  const carriedBy = new Map<string, number>();
  const counted = await countingKv((key, commit) => {
    if (key[0] === "head") carriedBy.set(String(key[1]), commit);
  });
  const store = new KvRunStore(counted.kv, { ttlHours: 1, watch: false, ownsKv: true });
  try {
    const ids = await createRuns(store, 160);
    counted.commits = 0;
    const ev = [{ type: "step_started", data: "{}" }];
    // 151 appends of one turn queue for the first commit (more than one operation's 100
    // checks); the last run's append, submitted after them and marked first, is in the first.
    const all = ids.slice(0, 151).map((id) => store.append(id, ev));
    all.push(store.append("run159", ev, undefined, { first: true }));
    await Promise.all(all);
    assert.equal(carriedBy.get("run0"), 1);
    assert.equal(carriedBy.get("run159"), 1);
    assert.ok(carriedBy.get("run150")! > 1, "the unmarked tail of the queue waits longer");
  } finally {
    await store.close();
  }
});

Deno.test("with afterIo, submits of one turn share the first commit", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let commits = 0;
    const gc = new GroupCommitter({
      atomic: () => kv.atomic(),
      commit: (build) => {
        commits++;
        return build().commit();
      },
      defer: afterIo,
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gc.submit(contribution(`d${i}`, null, i))),
    );
    assert.ok(results.every((r) => r.ok));
    // Without the deferral the first would go alone (see the first test).
    assert.equal(commits, 1);
    // A submit after the commit starts a new one (nothing is left running).
    assert.equal((await gc.submit(contribution("late", null, 1))).ok, true);
    assert.equal(commits, 2);
    assert.equal((await kv.get(["d19"])).value, 19);
  } finally {
    kv.close();
  }
});

Deno.test("KV store: runs created together share commits", async () => {
  const kv = await Deno.openKv(":memory:");
  let commits = 0;
  const realAtomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = realAtomic();
    const commit = op.commit.bind(op);
    op.commit = () => {
      commits++;
      return commit();
    };
    return op;
  };
  const store = new KvRunStore(kv, { ttlHours: 1, watch: false, ownsKv: true });
  try {
    const now = new Date().toISOString();
    const summary = (id: string): RunSummary => ({
      id,
      graph: "g",
      dialect: "workflow",
      status: "running",
      createdAt: now,
      updatedAt: now,
      eventCount: 0,
    });
    const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
    // The same id twice in one burst: exactly one create wins, whichever commit carries it.
    const made = await Promise.all([...ids, "c0"].map((id) => store.create(summary(id))));
    assert.equal(made.filter((ok) => ok).length, ids.length);
    assert.ok(commits < ids.length / 2, `expected shared commits, got ${commits}`);
    for (const id of ids) assert.equal((await store.get(id))?.eventCount, 0);
  } finally {
    await store.close();
  }
});
