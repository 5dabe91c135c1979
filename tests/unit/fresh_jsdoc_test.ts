import assert from "node:assert/strict";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");

async function modules(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
    if (entry.isDirectory) out.push(...await modules(`${dir}/${entry.name}`));
    else if (/\.tsx?$/.test(entry.name)) out.push(`${dir}/${entry.name}`);
  }
  return out;
}

// Only these two rules: `private-type-ref` also flags every Preact or zod type a public
// signature mentions, which would mean re-exporting Preact's API from `fresh`.
const RULES = /^error\[(missing-jsdoc|missing-explicit-type)\]/;

Deno.test("jsdoc: every export of the core, the logger, the config and main.ts is documented", async () => {
  const files = [...await modules("lib/fresh"), "lib/log.ts", "lib/config.ts", "main.ts"].sort();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...files],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stderr).split("\n");
  const holes: string[] = [];
  lines.forEach((line, i) => {
    if (!RULES.test(line)) return;
    const where = lines.slice(i + 1, i + 3).find((l) => l.includes("-->"))?.trim() ?? "";
    holes.push(`${line} ${where.replace(`${ROOT}/`, "")}`);
  });
  // It ran to the end: clean, or a count of (other rules') findings, not a crash.
  assert.ok(
    out.success || lines.some((l) => /^error: Found \d+ documentation lint errors?\.$/.test(l)),
    lines.join("\n"),
  );
  assert.deepEqual(holes, []);
});
