/**
 * `deno task build [--if-missing] [--root DIR] [--out DIR]`: bundles the islands with esbuild
 * into `static/_fresh/<build id>/` and writes `static/_fresh/build.json` (see
 * lib/fresh/dev/build.ts). `--if-missing` does nothing when a build of the current sources
 * exists (the `start` task uses it).
 * @module
 */
import { buildIslands } from "../lib/fresh/dev/build.ts";

const PROJECT_ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i === -1 ? undefined : Deno.args[i + 1];
}

if (import.meta.main) {
  const started = performance.now();
  const result = await buildIslands({
    root: flag("--root") ?? PROJECT_ROOT,
    outDir: flag("--out"),
    ifMissing: Deno.args.includes("--if-missing"),
  });
  const ms = Math.round(performance.now() - started);
  if (result.status === "skipped") {
    console.log(`Build ${result.buildId} is current (${ms} ms)`);
  } else {
    const total = result.files.reduce((n, f) => n + f.bytes, 0);
    console.log(
      `Build ${result.buildId} ${result.status === "fresh" ? "written" : "unchanged"}: ` +
        `${result.files.length} files, ${(total / 1024).toFixed(1)} KiB (${ms} ms)`,
    );
  }
}
