/**
 * `deno task build [--if-missing] [--root DIR] [--out DIR]`: bundles the islands with esbuild
 * into `static/_fresh/<build id>/` and writes `static/_fresh/build.json` (see
 * lib/fresh/dev/build.ts). `--if-missing` does nothing when a build of the current sources and
 * build code exists (the `start` and `test` tasks use it). Relative `--root` and `--out` are
 * resolved against the working directory.
 * @module
 */
import { buildIslands } from "../lib/fresh/dev/build.ts";

const PROJECT_ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

/** The value after `name`, made absolute against the working directory (esbuild needs that). */
function pathFlag(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  const value = i === -1 ? undefined : Deno.args[i + 1];
  if (value === undefined) return undefined;
  const parts: string[] = [];
  for (const part of (value.startsWith("/") ? value : `${Deno.cwd()}/${value}`).split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "" && part !== ".") parts.push(part);
  }
  return "/" + parts.join("/");
}

if (import.meta.main) {
  const started = performance.now();
  const result = await buildIslands({
    root: pathFlag("--root") ?? PROJECT_ROOT,
    outDir: pathFlag("--out"),
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
