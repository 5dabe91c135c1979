/**
 * Configuration: environment → typed config; every invalid value stops the start with a message
 * naming the variable and the expected form (also for the real `main.ts` process).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, loadConfig, redactUrl } from "../../lib/config.ts";

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig({});
    assert.equal(c.PORT, 8000);
    assert.equal(c.HEARTBEAT_MS, 15_000);
    assert.equal(c.RUN_TTL_HOURS, 24);
    assert.equal(c.MAX_BODY_BYTES, 65_536);
    assert.equal(c.MAX_HEADER_BYTES, 16_384);
    assert.equal(c.RATE_LIMIT_PER_MINUTE, 60);
    assert.equal(c.RATE_LIMIT_BURST, undefined, "unset: the limiter's rate / 6");
    assert.equal(c.UPSTREAM_TRANSPORT, "auto");
    assert.deepEqual(c.ALLOWED_ORIGINS, []);
    assert.equal(c.mode, "built-in");
    assert.equal(c.KV_PATH, undefined);
  });

  it("types and normalises what is set; blank values keep defaults", () => {
    const c = loadConfig({
      PORT: "9000",
      HEARTBEAT_MS: " 5000 ",
      WORKFLOW_SERVICE_URL: "http://localhost:8001",
      ALLOWED_ORIGINS: "https://a.example/, http://b.example:3000",
      LOG_LEVEL: "",
      MAX_HEADER_BYTES: "4096",
      RATE_LIMIT_BURST: "5",
    });
    assert.equal(c.MAX_HEADER_BYTES, 4096);
    assert.equal(c.RATE_LIMIT_BURST, 5);
    assert.equal(c.PORT, 9000);
    assert.equal(c.HEARTBEAT_MS, 5000);
    assert.equal(c.mode, "external");
    assert.deepEqual(c.ALLOWED_ORIGINS, ["https://a.example", "http://b.example:3000"]);
    assert.equal(c.LOG_LEVEL, "info");
  });

  it("names every invalid variable and the expected form", () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ PORT: "eighty" }, "PORT", /PORT="eighty": expected an integer/],
      [
        { HEARTBEAT_MS: "60000" },
        "HEARTBEAT_MS",
        /HEARTBEAT_MS="60000": expected an integer from 10 to 15000/,
      ],
      [{ WORKFLOW_SERVICE_URL: "ftp://x" }, "WORKFLOW_SERVICE_URL", /http\(s\) URL/],
      [{ GATEWAY_TOKEN: "short" }, "GATEWAY_TOKEN", /at least 16 characters/],
      [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", /LOG_LEVEL="loud": expected one of debug, info/],
      [{ ALLOWED_ORIGINS: "not a url" }, "ALLOWED_ORIGINS", /http\(s\) origins, or \*/],
      [{ UPSTREAM_TRANSPORT: "carrier-pigeon" }, "UPSTREAM_TRANSPORT", /UPSTREAM_TRANSPORT/],
      [
        { MAX_HEADER_BYTES: "100" },
        "MAX_HEADER_BYTES",
        /MAX_HEADER_BYTES="100": expected an integer from 1024 to 65536/,
      ],
      [{ RATE_LIMIT_BURST: "0" }, "RATE_LIMIT_BURST", /RATE_LIMIT_BURST="0": expected an integer/],
    ];
    for (const [env, name, message] of cases) {
      assert.throws(() => loadConfig(env), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.variables, [name]);
        assert.match(err.message, message);
        return true;
      }, name);
    }
    // Several at once: all are named.
    assert.throws(() => loadConfig({ PORT: "x", MAX_STREAMS: "0" }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.variables.sort(), ["MAX_STREAMS", "PORT"]);
      return true;
    });
  });

  it("strips credentials from URLs shown in /health", () => {
    assert.equal(redactUrl("https://user:secret@svc.example/base/"), "https://svc.example/base/");
    assert.equal(redactUrl("http://svc.example:8001/?token=abc"), "http://svc.example:8001");
  });

  it("stops main.ts with the message before it serves anything", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../main.ts", import.meta.url).pathname],
      env: { PORT: "0", HEARTBEAT_MS: "abc", KV_PATH: ":memory:" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.notEqual(out.code, 0);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.match(stderr, /Invalid configuration/);
    assert.match(stderr, /HEARTBEAT_MS="abc": expected an integer/);
  });
});
