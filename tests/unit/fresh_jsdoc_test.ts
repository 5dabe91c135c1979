import assert from "node:assert/strict";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");

/**
 * Folders not read: npm packages are documented, or not, by their authors, and bench/peer/ is
 * the benchmark's Node peer (`resumable-stream`), not this project's code.
 */
const SKIP = /(^|\/)node_modules$|^bench\/peer$/;

async function modules(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...SKIP.test(path) ? [] : await modules(path));
    else if (/\.tsx?$/.test(entry.name)) out.push(path);
  }
  return out;
}

/**
 * Modules left out for now, each with the reason (none at the moment). Add one only with the
 * reason; remove it once its module is clean: the test then keeps it clean.
 */
const PENDING: Record<string, string> = {};

/**
 * Private types a public signature may still name, as `file: type`, each with the reason.
 * `Config` is the output of `configSchema()`'s schema: exporting it would mean spelling out the
 * zod type of every variable a second time, next to the shape that is the one source of truth.
 */
const ALLOWED_PRIVATE: Record<string, string> = {
  "lib/config.ts: configSchema": "Config is inferred from it (see above)",
};

/**
 * The rules each part of the project is held to. lib/ and main.ts are what the rest imports:
 * every export documented, with an explicit type, and no private type of the project's in a
 * public signature. The app and its tools (routes, islands, components, scripts, bench) need the
 * doc comment only: route handlers built with `define.handlers(...)` and Preact components keep
 * Fresh's idiom of inferred types, and an island's state interface is private by design.
 */
const SCOPES: { dirs: string[]; files: string[]; rules: RegExp }[] = [
  {
    dirs: ["lib"],
    files: ["main.ts"],
    rules: /^error\[(missing-jsdoc|missing-explicit-type|private-type-ref)\]/,
  },
  {
    dirs: ["routes", "islands", "components", "scripts", "bench"],
    files: [],
    rules: /^error\[(missing-jsdoc)\]/,
  },
];

/**
 * True when `file` declares `name` at top level without exporting it. `private-type-ref` also
 * flags every npm type (zod, Preact, LangGraph …) a public signature mentions; re-exporting
 * those would make each module a second door to its dependencies' API, so only the project's
 * own unexported types count.
 */
function declaresPrivately(file: string, name: string): boolean {
  const escaped = name.replace(/[$]/g, "\\$");
  const decl = new RegExp(
    `^(?:declare\\s+)?(?:abstract\\s+)?(?:interface|type|class|const|let|var|function|enum)\\s+` +
      `${escaped}\\b`,
    "m",
  );
  return decl.test(Deno.readTextFileSync(`${ROOT}/${file}`));
}

/**
 * What `deno doc --lint` finds in `files` under `rules`. Each scope is linted on its own, so what
 * counts as private in lib/ does not depend on the app's modules that import it.
 */
async function holes(files: string[], rules: RegExp): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...files],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stderr).split("\n");
  const found: string[] = [];
  lines.forEach((line, i) => {
    const rule = rules.exec(line)?.[1];
    if (!rule) return;
    const where = lines.slice(i + 1, i + 3).find((l) => l.includes("-->"))?.trim() ?? "";
    const at = where.replace(/^-->\s*/, "").replace(`${ROOT}/`, "");
    const file = at.replace(/:\d+:\d+$/, "");
    // A pending module's exports also surface through the modules that re-export them; an npm
    // declaration re-exported is documented, or not, by its package.
    if (file in PENDING || file.startsWith("node_modules/")) return;
    if (rule === "private-type-ref") {
      const name = /references private type '([^']+)'/.exec(line)?.[1] ?? "";
      if (!declaresPrivately(file, name)) return;
      if (`${file}: ${name}` in ALLOWED_PRIVATE) return;
    }
    found.push(`${line} ${at}`);
  });
  // It ran to the end: clean, or a count of (ignored) findings, not a crash.
  assert.ok(
    out.success || lines.some((l) => /^error: Found \d+ documentation lint errors?\.$/.test(l)),
    lines.join("\n"),
  );
  return found;
}

Deno.test(
  "jsdoc: every export of lib/, main.ts, routes/, islands/, components/, scripts/ and bench/ " +
    "is documented; those of lib/ and main.ts also with explicit types",
  async () => {
    const scopes = await Promise.all(SCOPES.map(async ({ dirs, files, rules }) => ({
      files: [...(await Promise.all(dirs.map(modules))).flat(), ...files],
      rules,
    })));
    const all = scopes.flatMap((s) => s.files);
    const stale = Object.keys(PENDING).filter((f) => !all.includes(f));
    assert.deepEqual(stale, [], "PENDING names modules that do not exist");
    const found: string[] = [];
    for (const { files, rules } of scopes) {
      found.push(...await holes(files.filter((f) => !(f in PENDING)).sort(), rules));
    }
    assert.deepEqual(found, []);
  },
);
