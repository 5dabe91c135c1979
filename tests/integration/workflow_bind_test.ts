/**
 * `deno task workflow` (issue 17, point 5): it listens on loopback by default, and refuses to
 * start on an address other machines can reach without `WORKFLOW_SERVICE_TOKEN` (its `/execute`
 * with `resume` decides approvals).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spawnWorkflowService } from "../fixtures/process.ts";
import { bindProblem, isLoopbackHost } from "../../lib/workflow_service/bind.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

describe("deno task workflow: bind address and token", () => {
  it("listens on 127.0.0.1 by default", async () => {
    const svc = await spawnWorkflowService({ WORKFLOW_HOST: "" });
    try {
      const line = svc.logs.find((l) => l.msg === "workflow service listening");
      assert.equal(line?.hostname, "127.0.0.1");
      const res = await fetch(`${svc.url}/health`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      svc.kill("SIGTERM");
      await svc.status;
    }
  });

  it("refuses to listen beyond loopback without WORKFLOW_SERVICE_TOKEN", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ROOT + "scripts/workflow.ts"],
      cwd: ROOT,
      env: { WORKFLOW_HOST: "0.0.0.0", WORKFLOW_PORT: "0", WORKFLOW_SERVICE_TOKEN: "" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    assert.equal(out.code, 2);
    assert.match(new TextDecoder().decode(out.stderr), /set WORKFLOW_SERVICE_TOKEN/);
  });

  it("listens beyond loopback with a token, and then requires it", async () => {
    const svc = await spawnWorkflowService({
      WORKFLOW_HOST: "0.0.0.0",
      WORKFLOW_SERVICE_TOKEN: "service-token-0123456789",
    });
    try {
      const anon = await fetch(`${svc.url}/graphs`);
      assert.equal(anon.status, 401);
      await anon.body?.cancel();
    } finally {
      svc.kill("SIGTERM");
      await svc.status;
    }
  });

  it("tells loopback names from others", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) {
      assert.ok(isLoopbackHost(h), h);
      assert.equal(bindProblem(h, undefined), null);
    }
    for (const h of ["0.0.0.0", "::", "192.168.1.5", "example.com"]) {
      assert.ok(!isLoopbackHost(h), h);
      assert.match(bindProblem(h, undefined) ?? "", /WORKFLOW_SERVICE_TOKEN/);
      assert.equal(bindProblem(h, "t"), null);
    }
  });
});
