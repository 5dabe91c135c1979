/**
 * The append clock's owed move (`kv_follow.ts`): while this process's commits are under way it
 * rides with the next one instead of taking a commit of its own; with none under way it is
 * written alone.
 */
import assert from "node:assert/strict";
import { KvFollower } from "../../lib/runs/kv_follow.ts";
import { silentLogger } from "../../lib/log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("append clock: the owed move rides with a commit under way, else goes alone", async () => {
  const kv = await Deno.openKv(":memory:");
  let busy = false;
  let commits = 0;
  const follower = new KvFollower({
    kv,
    now: Date.now,
    watch: false,
    pollMs: 0,
    logger: silentLogger,
    ttlMs: 3_600_000,
    clockEveryMs: 30,
    tail: () => ({ runIds: () => [], advance() {} }),
    closed: () => false,
    committing: () => busy,
  });
  const clock = async () => {
    const entry = await kv.list<number>({ prefix: ["log_clock"] }).next();
    return entry.value?.value ?? 0;
  };
  const commit = async (ends = false) => {
    const op = kv.atomic().set(["row", ++commits], commits);
    follower.tick(op, ends);
    assert.ok((await op.commit()).ok);
  };
  try {
    await commit();
    assert.equal(await clock(), 1, "the first commit moves the clock");
    await commit();
    assert.equal(await clock(), 1, "a commit inside the interval leaves it out");
    // The owed move falls due while commits are under way: no write of its own.
    busy = true;
    await sleep(90);
    assert.equal(await clock(), 1, "no lone write while commits are under way");
    await commit();
    assert.equal(await clock(), 2, "the next commit carries it");

    // Owed again, commits under way, but none comes: once they are over, it is written alone.
    await commit();
    assert.equal(await clock(), 2);
    await sleep(90);
    assert.equal(await clock(), 2);
    busy = false;
    for (let i = 0; i < 100 && await clock() === 2; i++) await sleep(5);
    assert.equal(await clock(), 3, "written alone once no commit is under way");
  } finally {
    await follower.close();
    kv.close();
  }
});
