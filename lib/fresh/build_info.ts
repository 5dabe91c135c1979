/**
 * The build manifest `scripts/build.ts` writes to `static/_fresh/build.json` and the server reads
 * at start: the build id and, per island module, its bundled file.
 * @module
 */

/** Contents of `build.json`. */
export interface BuildInfo {
  /** Format version. */
  version: 1;
  /** Content hash of the bundle output; also the output folder name. */
  buildId: string;
  /** The client runtime entry (exports `boot`), relative to the build folder. */
  runtime: string;
  /** Island module key (as in the manifest, `./islands/X.tsx`) → file relative to the folder. */
  islands: Record<string, string>;
  /** Hash of the build code, the island list and every bundled source file, for `--if-missing`. */
  sourceHash: string;
  /** The bundled source files (project-relative), for `--if-missing`. */
  inputs: string[];
}

/** The file name of the build manifest inside `static/_fresh/`. */
export const BUILD_INFO_FILE = "build.json";

/** The URL prefix of a build's files. */
export function buildBaseUrl(build: BuildInfo): string {
  return `/_fresh/${build.buildId}/`;
}

/** Reads `<staticDir>/_fresh/build.json`; null when there is no build yet. */
export async function readBuildInfo(staticDir: string): Promise<BuildInfo | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${staticDir}/_fresh/${BUILD_INFO_FILE}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const info = JSON.parse(text) as BuildInfo;
  if (info.version !== 1 || typeof info.buildId !== "string" || !info.islands) {
    throw new Error(`Unrecognised build manifest in ${staticDir}/_fresh: run \`deno task build\``);
  }
  return info;
}
