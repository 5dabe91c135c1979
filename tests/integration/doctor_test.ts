/**
 * `deno task doctor`: every check passes against a healthy gateway (a deployment URL, and the
 * app started in-process), and failures name the problem, give a fix and exit non-zero.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { knownKeys, parseDotEnv, runDoctor } from "../../scripts/doctor.ts";
import { type FakeUpstream, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { relayToFake, startGateway, type TestGateway } from "../fixtures/gateway.ts";

const DOCTOR = new URL("../../scripts/doctor.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const NO_ENV_FILE = "/nonexistent/.env";

describe("deno task doctor", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  relayToFake(
    { fake: { script: "hotel_split" }, env: { HEARTBEAT_MS: "30" } },
    (p) => ({ fake, gw } = p),
  );

  it("passes every check against a healthy deployment URL, approving the gate", async () => {
    const lines: string[] = [];
    const report = await runDoctor({
      url: gw.url + "/",
      env: {},
      envFile: NO_ENV_FILE,
      print: (l) => lines.push(l),
      timeoutMs: 10_000,
    });
    assert.equal(report.ok, true, lines.join("\n"));
    const names = report.checks.map((c) => c.name);
    for (
      const n of [
        "configuration",
        "gateway /health",
        "workflow service health",
        "graphs",
        "metrics",
        "stream opens",
        "events arrive",
        "terminal event",
        "heartbeat",
      ]
    ) assert.ok(names.includes(n), n);
    assert.ok(lines.every((l) => /^[✓✗] |^ {4}fix: /.test(l)), lines.join("\n"));
    // The run really went through the gate: the fake saw the resume.
    assert.ok(fake.executeCalls.some((c) => c.resume?.decision === "approve"));
  });

  it("passes against a deployment with GATEWAY_TOKEN set, given the token", async () => {
    const token = "doctor-token-0123456789";
    const guarded = await startGateway({
      WORKFLOW_SERVICE_URL: fake.url,
      HEARTBEAT_MS: "30",
      GATEWAY_TOKEN: token,
    });
    try {
      const lines: string[] = [];
      const report = await runDoctor({
        url: guarded.url + "/",
        env: { GATEWAY_TOKEN: token },
        envFile: NO_ENV_FILE,
        print: (l) => lines.push(l),
        timeoutMs: 10_000,
      });
      assert.equal(report.ok, true, lines.join("\n"));
      assert.match(lines.join("\n"), /✓ workflow service health — external/);
    } finally {
      await guarded.close();
    }
  });

  it("starts the app in-process when no URL is given", async () => {
    const lines: string[] = [];
    const report = await runDoctor({
      env: { WORKFLOW_SERVICE_URL: fake.url },
      envFile: NO_ENV_FILE,
      print: (l) => lines.push(l),
      heartbeatMs: 30,
      timeoutMs: 10_000,
    });
    assert.equal(report.ok, true, lines.join("\n"));
    assert.match(lines.join("\n"), /✓ start — app started in-process at http:\/\/127\.0\.0\.1:\d+/);
  });

  it("fails with a fix when the gateway is down, the config is bad or .env has typos", async () => {
    const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = dead.addr.port;
    dead.close();
    const lines: string[] = [];
    const down = await runDoctor({
      url: `http://127.0.0.1:${port}`,
      env: {},
      envFile: NO_ENV_FILE,
      print: (l) => lines.push(l),
    });
    assert.equal(down.ok, false);
    assert.match(lines.join("\n"), /✗ gateway \/health — no answer[\s\S]*fix: start the gateway/);

    const bad = await runDoctor({
      url: gw.url,
      env: { HEARTBEAT_MS: "often" },
      envFile: NO_ENV_FILE,
      print: () => {},
    });
    assert.equal(bad.ok, false);
    const config = bad.checks.find((c) => c.name === "configuration")!;
    assert.equal(config.ok, false);
    assert.match(config.detail, /HEARTBEAT_MS/);
    assert.match(config.fix!, /HEARTBEAT_MS/);

    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/.env`, "HEARTBEET_MS=50\nDENO_FOO=1\nLOG_LEVEL=warn\n");
      const typo = await runDoctor({
        url: gw.url,
        env: {},
        envFile: `${dir}/.env`,
        print: () => {},
        timeoutMs: 10_000,
      });
      const dotenv = typo.checks.find((c) => c.name === ".env")!;
      assert.equal(dotenv.ok, false);
      assert.match(dotenv.detail, /HEARTBEET_MS/);
      assert.match(dotenv.detail, /DENO_FOO/);
      assert.equal(typo.ok, false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  it("reads .env when the environment lacks a variable: a bad value there fails the config", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/.env`, "HEARTBEAT_MS=often\n");
      const lines: string[] = [];
      const report = await runDoctor({
        url: gw.url,
        env: {},
        envFile: `${dir}/.env`,
        print: (l) => lines.push(l),
      });
      assert.equal(report.ok, false);
      const config = report.checks.find((c) => c.name === "configuration")!;
      assert.equal(config.ok, false, lines.join("\n"));
      assert.match(config.detail, /HEARTBEAT_MS="often"/);
      assert.match(config.fix!, /HEARTBEAT_MS/);
      // The environment wins over .env.
      const envWins = await runDoctor({
        url: gw.url,
        env: { HEARTBEAT_MS: "30" },
        envFile: `${dir}/.env`,
        print: () => {},
        timeoutMs: 10_000,
      });
      assert.equal(envWins.checks.find((c) => c.name === "configuration")!.ok, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  it("fails the workflow service check, naming WORKFLOW_SERVICE_URL, when the service is down", async () => {
    const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = dead.addr.port;
    dead.close();
    const broken = await startGateway({
      WORKFLOW_SERVICE_URL: `http://127.0.0.1:${port}`,
      UPSTREAM_TIMEOUT_MS: "500",
    });
    try {
      const lines: string[] = [];
      const report = await runDoctor({
        url: broken.url,
        env: {},
        envFile: NO_ENV_FILE,
        print: (l) => lines.push(l),
        timeoutMs: 2_000,
      });
      assert.equal(report.ok, false);
      const ws = report.checks.find((c) => c.name === "workflow service health")!;
      assert.equal(ws.ok, false, lines.join("\n"));
      assert.match(ws.detail, /unreachable/);
      assert.match(ws.fix!, /WORKFLOW_SERVICE_URL/);
    } finally {
      await broken.close();
    }
  });

  it("fails the heartbeat check when HEARTBEAT_MS is longer than the run takes", async () => {
    const quick = await startFakeUpstream({ script: "complete" });
    const slowBeat = await startGateway({ WORKFLOW_SERVICE_URL: quick.url, HEARTBEAT_MS: "15000" });
    try {
      const lines: string[] = [];
      const report = await runDoctor({
        url: slowBeat.url,
        env: {},
        envFile: NO_ENV_FILE,
        print: (l) => lines.push(l),
        timeoutMs: 5_000,
      });
      assert.equal(report.ok, false);
      const byName = new Map(report.checks.map((c) => [c.name, c]));
      assert.equal(byName.get("terminal event")!.ok, true, lines.join("\n"));
      const hb = byName.get("heartbeat")!;
      assert.equal(hb.ok, false);
      assert.match(hb.detail, /none seen/);
      assert.match(hb.fix!, /HEARTBEAT_MS/);
    } finally {
      await slowBeat.close();
      await quick.close();
    }
  });

  it("fails the terminal check when the run never ends within the doctor's timeout", async () => {
    const endless = await startFakeUpstream({ script: "idle" });
    const stuck = await startGateway({ WORKFLOW_SERVICE_URL: endless.url, HEARTBEAT_MS: "30" });
    try {
      const lines: string[] = [];
      const report = await runDoctor({
        url: stuck.url,
        env: {},
        envFile: NO_ENV_FILE,
        print: (l) => lines.push(l),
        timeoutMs: 1_500,
      });
      assert.equal(report.ok, false);
      const end = report.checks.find((c) => c.name === "terminal event")!;
      assert.equal(end.ok, false, lines.join("\n"));
      assert.match(end.detail, /none within 1500 ms/);
      assert.match(end.fix!, /did not finish/);
    } finally {
      await stuck.close();
      await endless.close();
    }
  });

  it("reports a failing approval or resume request as ✗ instead of throwing", async () => {
    const realFetch = globalThis.fetch;
    for (const [path, name] of [["/approval", "approval"], ["/events", "resume"]] as const) {
      // The network fails for that one request of the doctor's run, and only for it.
      globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
        const url = input instanceof Request ? input.url : String(input);
        if (new URL(url).pathname.endsWith(path)) {
          return Promise.reject(new TypeError("network error (test)"));
        }
        return realFetch(input, init);
      };
      try {
        const lines: string[] = [];
        const report = await runDoctor({
          url: gw.url,
          env: {},
          envFile: NO_ENV_FILE,
          print: (l) => lines.push(l),
          timeoutMs: 10_000,
        });
        assert.equal(report.ok, false, name);
        const check = report.checks.find((c) => c.name === name);
        assert.ok(check, `${name}: ${lines.join("\n")}`);
        assert.equal(check.ok, false);
        assert.match(check.detail, /network error \(test\)/);
        assert.ok(check.fix, name);
      } finally {
        globalThis.fetch = realFetch;
      }
    }
  });

  it("exits 0 when healthy and 1 on a failure, as a task", async () => {
    const run = (url: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", DOCTOR, url],
        cwd: ROOT,
        env: { GATEWAY_TOKEN: "" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const ok = await run(gw.url);
    const text = new TextDecoder().decode(ok.stdout);
    assert.equal(ok.code, 0, text + new TextDecoder().decode(ok.stderr));
    assert.match(text, /All \d+ checks passed/);
    const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = dead.addr.port;
    dead.close();
    const bad = await run(`http://127.0.0.1:${port}`);
    assert.equal(bad.code, 1);
    assert.match(new TextDecoder().decode(bad.stdout), /✗ gateway \/health/);
  });
});

describe("doctor helpers", () => {
  it("parses .env files", () => {
    assert.deepEqual(
      parseDotEnv(
        '# comment\nPORT=8001\nexport LOG_LEVEL=debug\nGATEWAY_TOKEN="a b#c"\nKV_PATH=./x.kv # note\n\nbad line\n',
      ),
      { PORT: "8001", LOG_LEVEL: "debug", GATEWAY_TOKEN: "a b#c", KV_PATH: "./x.kv" },
    );
  });
  it("knows every variable .env.example documents", async () => {
    const example = parseDotEnv(await Deno.readTextFile(`${ROOT}.env.example`));
    const known = knownKeys();
    for (const k of Object.keys(example)) assert.ok(known.has(k), k);
  });
});
