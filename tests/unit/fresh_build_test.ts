import assert from "node:assert/strict";
import type { BuildInfo } from "fresh";
import { FIXTURE_ROOT } from "../fixtures/fresh_app/testing.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);

async function build(out: string, ...flags: string[]): Promise<string> {
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/build.ts", "--root", FIXTURE_ROOT, "--out", out, ...flags],
    cwd: ROOT,
  }).output();
  const text = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
  assert.ok(res.success, text);
  return text;
}

Deno.test("build: bundles runtime and islands into a content-addressed folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fresh-build-" });
  const out = `${dir}/_fresh`;
  try {
    assert.match(await build(out), /written/);
    const info = JSON.parse(await Deno.readTextFile(`${out}/build.json`)) as BuildInfo;
    assert.match(info.buildId, /^[0-9a-f]{16}$/);
    assert.deepEqual(Object.keys(info.islands), [
      "./islands/box.tsx",
      "./islands/counter.tsx",
      "./islands/echo.tsx",
    ]);
    const files = [info.runtime, ...Object.values(info.islands)];
    for (const f of files) {
      assert.match(f, /^[A-Za-z]+-[A-Z0-9]{8}\.js$/, "hashed names");
      const code = await Deno.readTextFile(`${out}/${info.buildId}/${f}`);
      assert.ok(!code.includes("Deno."), `${f} must not contain server code`);
    }
    // One copy of Preact, from Deno's node_modules layout.
    const preact = info.inputs.filter((p) => /\/preact\/dist\/preact\.module\.js$/.test(p));
    assert.equal(preact.length, 1, preact.join(", "));
    assert.ok(info.inputs.some((p) => p.endsWith("lib/fresh/runtime.ts")), "fresh/runtime mapped");
    assert.ok(!info.inputs.some((p) => p.endsWith("lib/fresh/mod.ts")), "no server core");

    // Same sources: same id, nothing rewritten; --if-missing does not even run esbuild.
    const stat = await Deno.stat(`${out}/build.json`);
    assert.match(await build(out), new RegExp(`Build ${info.buildId} unchanged`));
    assert.match(await build(out, "--if-missing"), new RegExp(`Build ${info.buildId} is current`));
    assert.equal((await Deno.stat(`${out}/build.json`)).mtime?.getTime(), stat.mtime?.getTime());

    // A missing output file makes --if-missing rebuild.
    await Deno.remove(`${out}/${info.buildId}/${info.runtime}`);
    assert.match(await build(out, "--if-missing"), /written/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
