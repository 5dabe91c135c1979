/**
 * Lets esbuild resolve what Deno resolves: deno.json import map entries and `npm:` specifiers.
 * @module
 */
import type * as esbuild from "esbuild";

/** True when `path` exists (file or directory). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A deno.json import map and the folder it is relative to. */
export interface ImportMap {
  /** Specifier (or prefix ending in `/`) → target. */
  imports: Record<string, string>;
  /** The folder of the deno.json (also where `node_modules/` is). */
  base: string;
}

/** Finds the nearest deno.json(c) at or above `root`, as Deno does, and reads its imports. */
export async function readImportMap(root: string): Promise<ImportMap> {
  for (let dir = root; dir !== ""; dir = dir.slice(0, dir.lastIndexOf("/"))) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      let text: string;
      try {
        text = await Deno.readTextFile(`${dir}/${name}`);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue;
        throw err;
      }
      // deno.jsonc: drop whole-line comments, enough for a config file.
      const json = JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));
      return { imports: json.imports ?? {}, base: dir };
    }
  }
  return { imports: {}, base: root };
}

function applyImportMap(spec: string, map: ImportMap): string | undefined {
  if (Object.hasOwn(map.imports, spec)) return map.imports[spec];
  let best = "";
  for (const key of Object.keys(map.imports)) {
    if (key.endsWith("/") && spec.startsWith(key) && key.length > best.length) best = key;
  }
  return best ? map.imports[best] + spec.slice(best.length) : undefined;
}

/**
 * Resolves deno.json import map entries and `npm:` specifiers inside esbuild: local targets
 * (`fresh/runtime` → `lib/fresh/runtime.ts`) become paths; `npm:name@version/sub` is resolved
 * from `node_modules/.deno/name@version` (Deno's layout), so each package has one copy.
 */
export function denoResolverPlugin(map: ImportMap): esbuild.Plugin {
  return {
    name: "deno-import-map",
    setup(build) {
      build.onResolve({ filter: /^[^./]|^\.\/|^\.\.\// }, async (args) => {
        if (args.pluginData?.fromDenoPlugin || args.kind === "entry-point") return undefined;
        // Packages resolve their own dependencies the Node way.
        if (args.importer.includes("/node_modules/")) return undefined;
        const mapped = /^[./]/.test(args.path) ? undefined : applyImportMap(args.path, map);
        const target = mapped ?? args.path;
        if (target.startsWith("npm:")) {
          const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(target);
          if (!m) return { errors: [{ text: `Bad npm specifier ${target}` }] };
          const [, name, version, sub = ""] = m;
          let resolveDir = map.base;
          if (version) {
            const dir = `${map.base}/node_modules/.deno/${name.replace("/", "+")}@${version}`;
            if (await exists(dir)) resolveDir = dir;
          }
          const result = await build.resolve(name + sub, {
            kind: args.kind,
            resolveDir,
            importer: args.importer,
            pluginData: { fromDenoPlugin: true },
          });
          return result.errors.length ? { errors: result.errors } : result;
        }
        if (/^(jsr:|https?:|node:)/.test(target)) {
          return { errors: [{ text: `${target} cannot be bundled for the browser` }] };
        }
        if (mapped !== undefined && /^\.\.?\//.test(mapped)) {
          return { path: decodeURIComponent(new URL(mapped, `file://${map.base}/`).pathname) };
        }
        return undefined;
      });
    },
  };
}
