/**
 * Lists the route and island modules of a project (shared by the manifest writer and the build).
 * @module
 */

const MODULE_RE = /\.(tsx?|jsx?)$/;
const SKIP_RE = /(^|[._])test\.[jt]sx?$|\.d\.ts$/;

// Plain code-unit order, so results never depend on the machine's locale.
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Module files under `dir` as `<prefix>/<relative path>`, sorted; skips dot files, tests and
 * declaration files. A missing directory gives an empty list.
 */
export async function listModules(dir: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return out;
    throw err;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const rel = `${prefix}/${entry.name}`;
    if (entry.isDirectory) out.push(...await listModules(`${dir}/${entry.name}`, rel));
    else if (entry.isFile && MODULE_RE.test(entry.name) && !SKIP_RE.test(entry.name)) out.push(rel);
  }
  return out.sort(byCodeUnit);
}
