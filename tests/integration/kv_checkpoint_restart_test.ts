/**
 * DenoKvSaver across real process restarts: each step below is a separate `deno run` of
 * tests/fixtures/kv_checkpoint_graph.ts on the same KV file. A thread waiting at an interrupt
 * survives restarts and resumes; a process killed (SIGKILL) mid-step is continued by a new one
 * from the last checkpoint: the cut step runs again, completed steps do not.
 */
import assert from "node:assert/strict";

const FIXTURE = new URL("../fixtures/kv_checkpoint_graph.ts", import.meta.url).pathname;
const TIMEOUT_MS = 60_000;

/** Runs the fixture to completion and returns its JSON line. */
async function run(path: string, thread: string, action: string): Promise<Record<string, unknown>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, path, thread, action],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, `${action}: ${text}\n${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

async function nodeRuns(path: string): Promise<string[]> {
  return (await Deno.readTextFile(`${path}.runs`)).trim().split("\n");
}

Deno.test("a thread waiting at an interrupt survives three restarts and resumes in a new process", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/checkpoints.kv`;
  try {
    assert.deepEqual(await run(path, "t1", "start"), { interrupts: [{ question: "approve?" }] });
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await run(path, "t1", "state"), {
        next: ["approval"],
        guest: "John Doe",
        documentLength: "John Doe:".length + 200_000,
      });
    }
    assert.deepEqual(await run(path, "t1", "resume"), {
      receipt: `John Doe/approve/${"John Doe:".length + 200_000}`,
    });
    // The interrupted node runs again on resume (LangGraph's rule); nothing else twice.
    assert.deepEqual(await nodeRuns(path), ["prepare", "approval", "approval", "charge"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a process killed mid-step is continued from the last checkpoint by a new one", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/checkpoints.kv`;
  try {
    await run(path, "t2", "start");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", FIXTURE, path, "t2", "resume"],
      env: { HANG_IN_CHARGE: "1" },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes('"hanging"')) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.ok(seen.includes('"hanging"'), seen);
    child.kill("SIGKILL");
    clearTimeout(timer);
    await reader.cancel();
    assert.equal((await child.status).signal, "SIGKILL");

    assert.deepEqual(await run(path, "t2", "state"), {
      next: ["charge"],
      guest: "John Doe",
      documentLength: "John Doe:".length + 200_000,
    });
    assert.deepEqual(await run(path, "t2", "continue"), {
      receipt: `John Doe/approve/${"John Doe:".length + 200_000}`,
    });
    // charge was cut and ran again; prepare and the approval's resume did not repeat.
    assert.deepEqual(await nodeRuns(path), [
      "prepare",
      "approval",
      "approval",
      "charge",
      "charge",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
