import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RateLimiter } from "../../lib/http/rate_limit.ts";

describe("RateLimiter (token bucket)", () => {
  it("allows a burst, then asks to wait until one token is back", () => {
    let now = 0;
    const rl = new RateLimiter(60, { burst: 3, now: () => now });
    assert.deepEqual([rl.take("a"), rl.take("a"), rl.take("a")], [0, 0, 0]);
    assert.equal(rl.take("a"), 1, "60/min refills one token per second");
    now += 999;
    assert.equal(rl.take("a"), 1);
    now += 2;
    assert.equal(rl.take("a"), 0);
  });

  it("keeps clients apart", () => {
    const now = 0;
    const rl = new RateLimiter(6, { burst: 1, now: () => now });
    assert.equal(rl.take("a"), 0);
    assert.equal(rl.take("a"), 10, "6/min: ten seconds per token");
    assert.equal(rl.take("b"), 0);
  });

  it("defaults the burst to a sixth of the per-minute rate (at least 1)", () => {
    const rl = new RateLimiter(12, { now: () => 0 });
    assert.deepEqual([rl.take("a"), rl.take("a")], [0, 0]);
    assert.ok(rl.take("a") > 0);
    const one = new RateLimiter(1, { now: () => 0 });
    assert.equal(one.take("a"), 0);
    assert.equal(one.take("a"), 60);
  });

  it("never refills past the burst", () => {
    let now = 0;
    const rl = new RateLimiter(60, { burst: 2, now: () => now });
    now += 3_600_000;
    assert.deepEqual([rl.take("a"), rl.take("a")], [0, 0]);
    assert.ok(rl.take("a") > 0);
  });

  it("0 per minute disables limiting", () => {
    const rl = new RateLimiter(0, { now: () => 0 });
    for (let i = 0; i < 1000; i++) assert.equal(rl.take("a"), 0);
    assert.equal(rl.size, 0);
  });

  it("forgets idle clients, so memory stays bounded", () => {
    let now = 0;
    const rl = new RateLimiter(60, { burst: 2, now: () => now });
    for (let i = 0; i < 100; i++) rl.take(`ip${i}`);
    assert.equal(rl.size, 100);
    now += 2_000; // two tokens at one per second: every bucket is full again
    rl.take("fresh");
    assert.equal(rl.size, 1);
  });
});
