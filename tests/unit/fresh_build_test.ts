import assert from "node:assert/strict";
import type { BuildInfo } from "fresh";
import { FIXTURE_ROOT } from "../fixtures/fresh_app/testing.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");

/** Runs a copy of scripts/build.ts (default: the project's) with `args`; returns its output. */
async function build(
  args: string[],
  opts: { script?: string; cwd?: string } = {},
): Promise<string> {
  const res = await new Deno.Command(Deno.execPath(), {
    // The project's deno.json maps `esbuild` and `preact` even for a copied build script.
    args: [
      "run",
      "-A",
      "--config",
      `${ROOT}/deno.json`,
      opts.script ?? "scripts/build.ts",
      ...args,
    ],
    cwd: opts.cwd ?? ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr);
  assert.ok(res.success, text);
  return text;
}

async function readInfo(out: string): Promise<BuildInfo> {
  return JSON.parse(await Deno.readTextFile(`${out}/build.json`)) as BuildInfo;
}

/** The chunks a bundle imports statically (`import"./chunk-X.js"`, `from"./chunk-X.js"`). */
function staticChunkImports(code: string): string[] {
  return [...code.matchAll(/\b(?:from|import)\s*"\.\/(chunk-[A-Z0-9]+\.js)"/g)].map((m) => m[1]);
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyDir(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else if (entry.isFile) await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

Deno.test("build: bundles runtime and islands into a content-addressed folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fresh-build-" });
  const out = `${dir}/_fresh`;
  const flags = ["--root", FIXTURE_ROOT, "--out", out];
  try {
    assert.match(await build(flags), /written/);
    const info = await readInfo(out);
    assert.match(info.buildId, /^[0-9a-f]{16}$/);
    assert.deepEqual(Object.keys(info.islands), [
      "./islands/box.tsx",
      "./islands/counter.tsx",
      "./islands/echo.tsx",
    ]);
    const entries = [info.runtime, ...Object.values(info.islands)];
    const code = new Map<string, string>();
    for (const f of await Array.fromAsync(Deno.readDir(`${out}/${info.buildId}`))) {
      code.set(f.name, await Deno.readTextFile(`${out}/${info.buildId}/${f.name}`));
    }
    for (const f of entries) {
      assert.match(f, /^[a-z]+-[A-Z0-9]{8}\.js$/, "hashed names");
      assert.ok(code.has(f), `${f} was written`);
    }
    for (const [f, text] of code) {
      assert.ok(!text.includes("Deno."), `${f} must not contain server code`);
      // Minified: no indentation and none of the `// path` comments esbuild writes otherwise.
      assert.doesNotMatch(text, /\n[ \t]+\S/, `${f} is minified`);
      assert.doesNotMatch(text, /\/\/ (?:node_modules|lib|islands)\//, `${f} is minified`);
    }

    // Code splitting: what the runtime and every island use (Preact) is one shared chunk.
    const chunks = [...code.keys()].filter((f) => /^chunk-[A-Z0-9]{8}\.js$/.test(f));
    assert.ok(chunks.length >= 1, `shared chunks: ${[...code.keys()]}`);
    const islandImports = Object.values(info.islands).map((f) => staticChunkImports(code.get(f)!));
    const shared = chunks.filter((c) =>
      islandImports.every((list) => list.includes(c)) &&
      staticChunkImports(code.get(info.runtime)!).includes(c)
    );
    assert.ok(shared.length >= 1, `a chunk imported by the runtime and every island: ${chunks}`);

    // One copy of Preact, from Deno's node_modules layout.
    const preact = info.inputs.filter((p) => /\/preact\/dist\/preact\.module\.js$/.test(p));
    assert.equal(preact.length, 1, preact.join(", "));
    assert.ok(info.inputs.some((p) => p.endsWith("lib/fresh/runtime.ts")), "fresh/runtime mapped");
    assert.ok(!info.inputs.some((p) => p.endsWith("lib/fresh/mod.ts")), "no server core");

    // Same sources: same id, nothing rewritten; --if-missing does not even run esbuild.
    const stat = await Deno.stat(`${out}/build.json`);
    assert.match(await build(flags), new RegExp(`Build ${info.buildId} unchanged`));
    assert.match(
      await build([...flags, "--if-missing"]),
      new RegExp(`Build ${info.buildId} is current`),
    );
    assert.equal((await Deno.stat(`${out}/build.json`)).mtime?.getTime(), stat.mtime?.getTime());

    // A missing output file makes --if-missing rebuild.
    await Deno.remove(`${out}/${info.buildId}/${info.runtime}`);
    assert.match(await build([...flags, "--if-missing"]), /written/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build: --if-missing rebuilds when an island or the build code changed", async () => {
  // A copy of the fixture app and of the build code, so both can be edited.
  const dir = await Deno.makeTempDir({ prefix: "fresh-build-edit-" });
  try {
    await Deno.copyFile(`${ROOT}/deno.json`, `${dir}/deno.json`);
    await Deno.symlink(`${ROOT}/node_modules`, `${dir}/node_modules`);
    await copyDir(`${ROOT}/lib/fresh`, `${dir}/lib/fresh`);
    await Deno.mkdir(`${dir}/scripts`);
    await Deno.copyFile(`${ROOT}/scripts/build.ts`, `${dir}/scripts/build.ts`);
    await copyDir(FIXTURE_ROOT, `${dir}/app`);
    // Relative paths, resolved against the working directory.
    const ifMissing = () =>
      build(["--if-missing", "--root", "app", "--out", "out"], {
        script: `${dir}/scripts/build.ts`,
        cwd: dir,
      });
    const out = `${dir}/out`;

    assert.match(await ifMissing(), /written/);
    const first = await readInfo(out);
    assert.match(await ifMissing(), new RegExp(`Build ${first.buildId} is current`));

    const counter = `${dir}/app/islands/counter.tsx`;
    await Deno.writeTextFile(counter, (await Deno.readTextFile(counter)).replace("+1", "plus"));
    assert.match(await ifMissing(), /written/);
    const second = await readInfo(out);
    assert.notEqual(second.buildId, first.buildId, "an edited island gives a new build id");
    assert.notEqual(
      second.islands["./islands/counter.tsx"],
      first.islands["./islands/counter.tsx"],
    );
    assert.ok(
      (await Deno.readTextFile(
        `${out}/${second.buildId}/${second.islands["./islands/counter.tsx"]}`,
      ))
        .includes("plus"),
    );
    assert.match(await ifMissing(), new RegExp(`Build ${second.buildId} is current`));

    // The bundler's own code (options, resolver) is part of what --if-missing compares.
    let previous = second;
    for (const file of ["lib/fresh/dev/resolver.ts", "lib/fresh/dev/build.ts"]) {
      await Deno.writeTextFile(`${dir}/${file}`, "\n// edited by the test\n", { append: true });
      const text = await ifMissing();
      assert.doesNotMatch(text, /is current/, `${file} changed: must rebuild`);
      assert.match(text, /written/);
      const info = await readInfo(out);
      assert.equal(info.buildId, previous.buildId, "a comment does not change the output");
      assert.notEqual(info.sourceHash, previous.sourceHash);
      previous = info;
    }
    assert.match(await ifMissing(), new RegExp(`Build ${previous.buildId} is current`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
