/**
 * The island build: esbuild bundles the browser runtime (`client/boot.ts`) and every island
 * module into `static/_fresh/<build id>/` (ESM, code splitting, minified, content-hashed names)
 * and writes `static/_fresh/build.json`. The build id is a hash of the output, so an unchanged
 * project builds to the same id and nothing is rewritten. `build.json` also records a hash of
 * the inputs and of the build code itself, which `ifMissing` compares to skip esbuild.
 * @module
 */
import * as esbuild from "esbuild";
import { BUILD_INFO_FILE, type BuildInfo } from "../build_info.ts";
import { listModules } from "./modules.ts";
import { denoResolverPlugin, exists, readImportMap } from "./resolver.ts";

/** Options of `buildIslands`. */
export interface BuildOptions {
  /** Project root: `islands/`, `deno.json` and `node_modules/` live here. */
  root: string;
  /** Output folder (default `<root>/static/_fresh`). */
  outDir?: string;
  /** Skip everything when `build.json` matches the current sources. */
  ifMissing?: boolean;
}

/** What a build did. */
export interface BuildResult {
  /** The current build id. */
  buildId: string;
  /** `fresh` (new files), `unchanged` (same output already there) or `skipped` (`ifMissing`). */
  status: "fresh" | "unchanged" | "skipped";
  /** The build manifest. */
  info: BuildInfo;
  /** Output files and their sizes in bytes. */
  files: { name: string; bytes: number }[];
}

const RUNTIME_ENTRY = "boot";
const FRESH_DIR = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
/**
 * The build's own code (relative to `lib/fresh/`): the esbuild options live in this file, the
 * resolver decides what gets bundled, the module lister which islands exist and boot.ts is the
 * browser runtime. Editing any of them must rebuild even when no project source changed.
 */
const BUILD_CODE = ["dev/build.ts", "dev/resolver.ts", "dev/modules.ts", "client/boot.ts"];

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The entry name (and output file prefix) of an island module key. */
function entryName(key: string): string {
  return key.replace(/^\.\/islands\//, "").replace(/\.[jt]sx?$/, "").replace(
    /[^A-Za-z0-9_-]/g,
    "-",
  );
}

let buildCodeHash: Promise<string> | undefined;

/**
 * Identity of the bundler: esbuild's version and the hash of `BUILD_CODE`. Read once per
 * process, so a long-running `dev` process keeps describing the code it actually runs.
 */
function buildIdentity(): Promise<string> {
  buildCodeHash ??= (async () => {
    const parts = [`esbuild ${esbuild.version}`];
    for (const file of BUILD_CODE) {
      parts.push(file, await sha256Hex(await Deno.readFile(`${FRESH_DIR}/${file}`)));
    }
    return await sha256Hex(parts.join("\0"));
  })();
  return buildCodeHash;
}

/** Hash of the build code, the bundled sources (contents and names) and the island list. */
async function sourceHash(
  root: string,
  inputs: string[],
  islands: string[],
): Promise<string | null> {
  const parts: string[] = [await buildIdentity(), islands.join("\n")];
  for (const input of inputs) {
    try {
      parts.push(input, await sha256Hex(await Deno.readFile(`${root}/${input}`)));
    } catch {
      return null;
    }
  }
  return await sha256Hex(parts.join("\0"));
}

/** Fails when a package that must be unique (Preact, signals) was bundled from two places. */
function checkSingleCopies(inputs: string[]): void {
  const roots = new Map<string, Set<string>>();
  for (const input of inputs) {
    const m = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input);
    if (!m) continue;
    const set = roots.get(m[2]) ?? new Set();
    set.add(m[1]);
    roots.set(m[2], set);
  }
  for (const name of ["preact", "@preact/signals", "@preact/signals-core"]) {
    const dirs = roots.get(name);
    if (dirs && dirs.size > 1) {
      throw new Error(`${name} was bundled more than once: ${[...dirs].join(", ")}`);
    }
  }
}

async function readInfo(outDir: string): Promise<BuildInfo | null> {
  try {
    return JSON.parse(await Deno.readTextFile(`${outDir}/${BUILD_INFO_FILE}`)) as BuildInfo;
  } catch {
    return null;
  }
}

async function hasOutput(outDir: string, info: BuildInfo): Promise<boolean> {
  const files = [info.runtime, ...Object.values(info.islands)];
  for (const f of files) if (!await exists(`${outDir}/${info.buildId}/${f}`)) return false;
  return true;
}

/** Builds the islands; see the module doc. Stops esbuild's service before returning. */
export async function buildIslands(options: BuildOptions): Promise<BuildResult> {
  const root = options.root.replace(/\/$/, "");
  const outDir = options.outDir ?? `${root}/static/_fresh`;
  const islands = await listModules(`${root}/islands`, "./islands");

  if (options.ifMissing) {
    const info = await readInfo(outDir);
    if (
      info && info.version === 1 &&
      JSON.stringify(Object.keys(info.islands).sort()) === JSON.stringify(islands) &&
      await hasOutput(outDir, info) &&
      await sourceHash(root, info.inputs, islands) === info.sourceHash
    ) {
      return { buildId: info.buildId, status: "skipped", info, files: [] };
    }
  }

  const entryPoints: Record<string, string> = { [RUNTIME_ENTRY]: `${FRESH_DIR}/client/boot.ts` };
  for (const key of islands) {
    const name = entryName(key);
    if (name in entryPoints) throw new Error(`Two islands map to the same bundle name: ${name}`);
    entryPoints[name] = `${root}/${key.slice(2)}`;
  }

  const staging = `${outDir}/.staging`;
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints,
      absWorkingDir: root,
      outdir: staging,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: ["es2022"],
      minify: true,
      write: false,
      metafile: true,
      entryNames: "[name]-[hash]",
      chunkNames: "chunk-[hash]",
      jsx: "automatic",
      jsxImportSource: "preact",
      legalComments: "none",
      charset: "utf8",
      logLevel: "silent",
      plugins: [denoResolverPlugin(await readImportMap(root))],
    });
  } finally {
    await esbuild.stop();
  }

  const inputs = Object.keys(result.metafile.inputs).sort();
  checkSingleCopies(inputs);
  const serverOnly = inputs.find((p) => /lib\/fresh\/(mod|app|render|islands)\.ts$/.test(p));
  if (serverOnly) {
    throw new Error(
      `Server code ended up in the browser bundle (${serverOnly}): islands must ` +
        `import from "fresh/runtime", not "fresh"`,
    );
  }

  const files = result.outputFiles
    .map((f) => ({ name: f.path.slice(staging.length + 1), contents: f.contents }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const idParts: string[] = [];
  for (const f of files) idParts.push(f.name, await sha256Hex(f.contents));
  const buildId = (await sha256Hex(idParts.join("\0"))).slice(0, 16);

  // Metafile paths are relative to absWorkingDir (and may climb out of it with "../").
  const absolute = (p: string) => decodeURIComponent(new URL(p, `file://${root}/`).pathname);
  const byEntry = new Map<string, string>();
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint) byEntry.set(absolute(meta.entryPoint), out.replace(/^.*\//, ""));
  }
  const outputOf = (path: string) => {
    const file = byEntry.get(absolute(path));
    if (!file) throw new Error(`No output for ${path}`);
    return file;
  };
  const info: BuildInfo = {
    version: 1,
    buildId,
    runtime: outputOf(entryPoints[RUNTIME_ENTRY]),
    islands: Object.fromEntries(islands.map((k) => [k, outputOf(entryPoints[entryName(k)])])),
    sourceHash: (await sourceHash(root, inputs, islands))!,
    inputs,
  };
  const sizes = files.map((f) => ({ name: f.name, bytes: f.contents.byteLength }));

  const previous = await readInfo(outDir);
  if (
    previous?.buildId === buildId && previous.sourceHash === info.sourceHash &&
    await hasOutput(outDir, previous)
  ) {
    return { buildId, status: "unchanged", info, files: sizes };
  }

  // Write into a fresh folder and rename it into place, so a server never sees half a build.
  await Deno.mkdir(outDir, { recursive: true });
  const tmp = `${outDir}/.tmp-${buildId}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp);
  for (const f of files) await Deno.writeFile(`${tmp}/${f.name}`, f.contents);
  await Deno.remove(`${outDir}/${buildId}`, { recursive: true }).catch(() => {});
  await Deno.rename(tmp, `${outDir}/${buildId}`);
  const infoTmp = `${outDir}/.${BUILD_INFO_FILE}.tmp`;
  await Deno.writeTextFile(infoTmp, JSON.stringify(info, null, 2) + "\n");
  await Deno.rename(infoTmp, `${outDir}/${BUILD_INFO_FILE}`);
  for await (const entry of Deno.readDir(outDir)) {
    if (entry.isDirectory && entry.name !== buildId) {
      await Deno.remove(`${outDir}/${entry.name}`, { recursive: true });
    }
  }
  return { buildId, status: "fresh", info, files: sizes };
}
