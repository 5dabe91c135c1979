/**
 * LangGraph's checkpointer conformance suite (`@langchain/langgraph-checkpoint-validation`, pinned
 * in deno.json) against DenoKvSaver: vitest (pinned too) runs tests/conformance/ in a child
 * process; its JSON report must show the whole suite passing.
 */
import assert from "node:assert/strict";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
/** The same pin as deno.json's `vitest` import (the lock covers it). */
const VITEST = "npm:vitest@4.1.12";
const TIMEOUT_MS = 180_000;

interface VitestReport {
  success: boolean;
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: {
    assertionResults: { ancestorTitles: string[]; fullName: string; status: string }[];
  }[];
}

Deno.test("DenoKvSaver passes LangGraph's checkpointer conformance suite under vitest", async () => {
  const dir = await Deno.makeTempDir();
  const report = `${dir}/report.json`;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        VITEST,
        "run",
        "-c",
        "tests/conformance/vitest.config.ts",
        "--reporter=json",
        `--outputFile=${report}`,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", CI: "true" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    const out = await child.output();
    clearTimeout(timer);
    const text = await Deno.readTextFile(report).catch(() => "");
    const logs = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.ok(text, `vitest wrote no report (exit ${out.code}):\n${logs.slice(-4000)}`);
    const result = JSON.parse(text) as VitestReport;
    const failed = result.testResults.flatMap((f) => f.assertionResults)
      .filter((a) => a.status === "failed").map((a) => a.fullName);
    assert.deepEqual(failed, []);
    assert.equal(result.numFailedTests, 0);
    // Each configuration (tests/conformance/kv_saver.conformance.ts) passes the whole suite.
    const passedBy = new Map<string, number>();
    for (const a of result.testResults.flatMap((f) => f.assertionResults)) {
      if (a.status === "passed") {
        passedBy.set(a.ancestorTitles[0], (passedBy.get(a.ancestorTitles[0]) ?? 0) + 1);
      }
    }
    assert.deepEqual([...passedBy.keys()].sort(), [
      "DenoKvSaver",
      "DenoKvSaver (file, prefix, expireIn)",
    ]);
    for (const [name, n] of passedBy) assert.ok(n > 700, `${name}: only ${n} passed`);
    assert.equal(result.numPassedTests, result.numTotalTests, "some tests were skipped");
    assert.equal(result.success, true);
    assert.equal(out.code, 0, logs.slice(-4000));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
