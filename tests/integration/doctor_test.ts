/**
 * `deno task doctor`: every check passes against a healthy gateway (a deployment URL, and the
 * app started in-process), and failures name the problem, give a fix and exit non-zero.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { knownKeys, parseDotEnv, runDoctor } from "../../scripts/doctor.ts";
import { type FakeUpstream, startFakeUpstream } from "../fixtures/fake_upstream.ts";
import { startGateway, type TestGateway } from "../fixtures/gateway.ts";

const DOCTOR = new URL("../../scripts/doctor.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const NO_ENV_FILE = "/nonexistent/.env";

describe("deno task doctor", () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    fake = await startFakeUpstream({ script: "hotel_split" });
    gw = await startGateway({ WORKFLOW_SERVICE_URL: fake.url, HEARTBEAT_MS: "30" });
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

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
