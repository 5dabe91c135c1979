/**
 * Deno Deploy readiness, with the real `main.ts` in a child process:
 * - eviction: SIGINT ends open client streams with a final comment and the process exits well
 *   inside Deploy's 5 s grace period, also under `deno serve` (Deploy's way: no server of
 *   main.ts's own) and also while a request still waits for a silent workflow service;
 * - nothing at run time needs a file write, a subprocess or a native library: the gateway
 *   serves pages and a whole built-in (LangGraph) run with writes, `run` and `ffi` denied;
 * - esbuild (the island build, a native binary) is not in the server's module graph;
 * - deno.json's `deploy` settings are the current Deploy's form.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type FakeUpstream, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { postJson, withFakeUpstream } from "../fixtures/gateway.ts";
import { spawnDenoServe, spawnGateway } from "../fixtures/process.ts";
import { readSse } from "../fixtures/sse_reader.ts";
import { poll, within } from "../fixtures/within.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = new URL("../../main.ts", import.meta.url).pathname;

describe("Deno Deploy readiness", () => {
  let fake: FakeUpstream;
  withFakeUpstream({ script: "idle" }, (f) => (fake = f));

  it("on SIGINT ends open streams with a final comment and exits within 5 s", async () => {
    const gw = await spawnGateway({
      WORKFLOW_SERVICE_URL: fake.url,
      KV_PATH: ":memory:",
      HEARTBEAT_MS: "15000",
    });
    try {
      const res = await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: {},
        run_id: "evicted",
      });
      assert.equal(res.status, 200);
      const body = readSse(res, undefined, 8_000);
      // Wait until the run is live (its first event relayed and logged), then evict.
      await fake.waitFor((f) => f.executeCalls.length > 0);
      await poll(
        async () => {
          const s = await (await fetch(`${gw.url}/agui/runs/evicted`)).json();
          return s.run?.eventCount >= 1;
        },
        500,
        10,
      );
      gw.kill("SIGINT");
      const read = await body;
      assert.equal(read.ended, true, "the stream ends instead of being cut");
      assert.ok(read.comments.includes("shutdown"), JSON.stringify(read.raw.slice(-200)));
      assert.equal(read.frames[0]?.event, "workflow_initialized");
      const status = await within(gw.status, 5_000, "process exit after SIGINT");
      assert.equal(status.code, 0);
      assert.ok(
        !gw.logs.some((l) => l.level === "error"),
        JSON.stringify(gw.logs.filter((l) => l.level === "error")),
      );
    } finally {
      gw.kill("SIGKILL");
      await gw.status;
    }
  });

  it("under deno serve (as on Deploy) flushes the final comment before exiting on SIGINT", async () => {
    const gw = await spawnDenoServe({
      DENO_DEPLOYMENT_ID: "test",
      WORKFLOW_SERVICE_URL: fake.url,
      KV_PATH: ":memory:",
      HEARTBEAT_MS: "15000",
    });
    try {
      const res = await postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: {},
        run_id: "evicted-serve",
      });
      assert.equal(res.status, 200);
      // Read until the run's first event is here, then evict and read on to the end.
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let raw = "";
      while (!raw.includes("event: workflow_initialized")) {
        const r = await within(reader.read(), 5_000, "first event");
        assert.equal(r.done, false, `stream ended early: ${JSON.stringify(raw)}`);
        raw += dec.decode(r.value, { stream: true });
      }
      gw.kill("SIGINT");
      let ended = false;
      while (!ended) {
        // A cut body rejects here (curl's rc 18), which fails the test.
        const r = await within(reader.read(), 8_000, "end of the stream after SIGINT");
        if (r.done) ended = true;
        else raw += dec.decode(r.value, { stream: true });
      }
      assert.ok(raw.endsWith(": shutdown\n\n"), JSON.stringify(raw.slice(-200)));
      const status = await within(gw.status, 8_000, "process exit after SIGINT");
      assert.equal(status.code, 0);
    } finally {
      gw.kill("SIGKILL");
      await gw.status;
    }
  });

  it("exits on SIGINT within the shutdown deadline while a request waits for a silent upstream", async () => {
    const silent = await startFakeUpstream({ script: "silent" });
    const gw = await spawnGateway({
      WORKFLOW_SERVICE_URL: silent.url,
      KV_PATH: ":memory:",
      UPSTREAM_TIMEOUT_MS: "30000",
    });
    try {
      // The gateway answers POST /agui only once the upstream sends its first byte: pending.
      const pending = postJson(`${gw.url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: {},
        run_id: "waits-for-upstream",
      }).then(async (res) => {
        await res.body?.cancel();
        return res.status;
      }, (err: unknown) => err);
      await silent.waitFor((f) => f.executeCalls.length > 0);
      gw.kill("SIGINT");
      // Well below UPSTREAM_TIMEOUT_MS (30 s): the deadline, not the upstream, ends the process.
      const status = await within(gw.status, 10_000, "process exit after SIGINT");
      assert.equal(status.code, 0);
      // The pending request was settled too (answered or cut), so nothing is left hanging.
      await within(pending, 5_000, "the pending request settles");
    } finally {
      gw.kill("SIGKILL");
      await gw.status;
      await silent.close();
    }
  });

  it("needs no file write, subprocess or FFI at run time (built-in LangGraph mode)", async () => {
    const child = await spawnGateway(
      { KV_PATH: ":memory:", WORKFLOW_STEP_DELAY_MS: "0", LOG_LEVEL: "info" },
      [
        "--allow-net",
        "--allow-env",
        "--allow-read",
        "--allow-sys",
        "--deny-write",
        "--deny-run",
        "--deny-ffi",
      ],
    );
    const url = child.url;
    const lines = () =>
      child.logs.map((l) => typeof l.raw === "string" ? l.raw : JSON.stringify(l));
    try {
      for (const path of ["/", "/runs", "/health", "/metrics"]) {
        const res = await fetch(`${url}${path}`, { headers: { accept: "text/html" } });
        assert.equal(res.status, 200, path);
        await res.body?.cancel();
      }
      // A whole run of the built-in service, through its approval gate.
      const res = await postJson(`${url}/agui`, {
        graph_name: "hotel_o2c",
        initial_state: { prompt: "Two nights for Ada Lovelace from 2026-05-01, standard room" },
        run_id: "no-writes",
      });
      assert.equal(res.status, 200);
      const first = await readSse(
        res,
        (r) => r.frames.some((f) => f.event === "approval_required"),
      );
      const gate = JSON.parse(first.frames.at(-1)!.data);
      const ok = await postJson(`${url}/agui/runs/no-writes/approval`, {
        stepId: gate.stepId,
        decision: "approve",
      });
      assert.equal(ok.status, 202);
      await ok.body?.cancel();
      const rest = await readSse(await fetch(`${url}/agui/runs/no-writes/events?after=0`));
      assert.equal(rest.frames.at(-1)?.event, "workflow_complete");
      assert.ok(
        !lines().some((l) =>
          /PermissionDenied|NotCapable|Requires (write|run|ffi) access/i.test(l)
        ),
        lines().join("\n"),
      );
    } finally {
      child.kill("SIGINT");
      await within(child.status, 5_000, "exit after SIGINT").catch(() => child.kill("SIGKILL"));
      await child.status;
    }
  });

  it("keeps esbuild and the dev tools out of the server's module graph", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", MAIN],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    // `modules` is the graph itself, npm entry points included (`npmPackages` lists every
    // package of the lock file, used or not).
    const specifiers: string[] = info.modules.map((m: { specifier: string }) => m.specifier);
    assert.ok(specifiers.some((s) => s.startsWith("npm:")), "npm modules are listed");
    assert.ok(specifiers.some((s) => s.endsWith("/main.ts")));
    assert.ok(specifiers.some((s) => s.includes("/lib/fresh/app.ts")), "the graph was read");
    const offending = specifiers.filter((s) => /esbuild|\/lib\/fresh\/dev\/|\/scripts\//.test(s));
    assert.deepEqual(offending, []);
  });

  it("declares the current Deploy's build and runtime in deno.json", async () => {
    const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
    assert.deepEqual(config.deploy.runtime, { type: "dynamic", entrypoint: "./main.ts" });
    assert.match(config.deploy.build, /deno task build/);
    // Classic's keys must not be mixed in.
    for (const key of ["project", "entrypoint", "include", "exclude"]) {
      assert.equal(config.deploy[key], undefined, key);
    }
    assert.ok(config.unstable.includes("kv"), "KV comes from deno.json (Deploy takes no flags)");
    assert.match(config.tasks.build, /scripts\/build\.ts/);
  });
});
