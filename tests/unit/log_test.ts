import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, logContext, withLogContext } from "../../lib/log.ts";

function capture(level: Parameters<typeof createLogger>[0] = "debug") {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger(level, (l) => lines.push(JSON.parse(l))) };
}

describe("createLogger", () => {
  it("writes one JSON object per line with time, level, message and fields", () => {
    const { lines, log } = capture();
    log.info("hello", { run_id: "r1", n: 2 });
    assert.equal(lines.length, 1);
    assert.equal(lines[0].level, "info");
    assert.equal(lines[0].msg, "hello");
    assert.equal(lines[0].run_id, "r1");
    assert.ok(!Number.isNaN(Date.parse(String(lines[0].time))));
  });
  it("drops lines below LOG_LEVEL", () => {
    const { lines, log } = capture("warn");
    log.debug("a");
    log.info("b");
    log.warn("c");
    log.error("d");
    assert.deepEqual(lines.map((l) => l.msg), ["c", "d"]);
  });
  it("children add their fields; errors become name + message", () => {
    const { lines, log } = capture();
    log.child({ component: "gateway" }).child({ run_id: "r9" }).error("x", {
      error: new TypeError("boom"),
    });
    assert.equal(lines[0].component, "gateway");
    assert.equal(lines[0].run_id, "r9");
    assert.deepEqual(lines[0].error, { name: "TypeError", message: "boom" });
  });
  it("survives unserializable fields", () => {
    const { lines, log } = capture();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    log.info("cyclic", { cyclic });
    assert.equal(lines[0].msg, "cyclic");
    assert.equal(lines[0].note, "unserializable fields");
  });
});

describe("withLogContext", () => {
  it("adds the request id to every line written inside, across awaits and timers", async () => {
    const { lines, log } = capture();
    const child = log.child({ component: "relay" });
    await withLogContext({ request_id: "req-1" }, async () => {
      log.info("sync");
      await Promise.resolve();
      child.info("after await");
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          log.info("in a timer");
          resolve();
        }, 0)
      );
    });
    log.info("outside");
    assert.deepEqual(lines.map((l) => [l.msg, l.request_id]), [
      ["sync", "req-1"],
      ["after await", "req-1"],
      ["in a timer", "req-1"],
      ["outside", undefined],
    ]);
    assert.equal(lines[1].component, "relay");
  });
  it("keeps concurrent requests apart and merges nested contexts", async () => {
    const { lines, log } = capture();
    const tick = () => new Promise((r) => setTimeout(r, 1));
    await Promise.all(["a", "b"].map((id) =>
      withLogContext({ request_id: id }, async () => {
        await tick();
        log.info(`line ${id}`);
        withLogContext({ run_id: `run-${id}` }, () => log.info(`nested ${id}`));
      })
    ));
    for (const l of lines) assert.ok(String(l.msg).endsWith(String(l.request_id)));
    const nested = lines.filter((l) => String(l.msg).startsWith("nested"));
    assert.deepEqual(nested.map((l) => l.run_id).sort(), ["run-a", "run-b"]);
    assert.equal(logContext(), undefined);
  });
  it("lets a logger's own fields win over the context", () => {
    const { lines, log } = capture();
    withLogContext({ run_id: "ctx" }, () => log.child({ run_id: "own" }).info("x"));
    assert.equal(lines[0].run_id, "own");
  });
});
