/**
 * `deno run -A scripts/peers.ts [--if-missing]`: installs the Node-only test peers (a LangGraph
 * dev server, the CopilotKit runtime, AG-UI servers and SSE clients, pinned by
 * `tests/peers/package-lock.json`) with `npm ci`. The `test` task runs it with `--if-missing`, so
 * the README's test command runs the whole suite on a machine with only Node.js and npm.
 * @module
 */

const PEERS = decodeURIComponent(new URL("../tests/peers", import.meta.url).pathname);

/** True when the peers' packages are already installed. */
export async function peersInstalled(dir = PEERS): Promise<boolean> {
  try {
    return (await Deno.stat(`${dir}/node_modules/.package-lock.json`)).isFile;
  } catch {
    return false;
  }
}

/** Runs `npm ci` in `dir`; resolves to whether it succeeded (its output goes to stderr). */
export async function installPeers(dir = PEERS): Promise<boolean> {
  try {
    const out = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund"],
      cwd: dir,
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    return out.success;
  } catch (err) {
    console.error(`npm could not be run (${err instanceof Error ? err.message : err})`);
    return false;
  }
}

if (import.meta.main) {
  if (Deno.args.includes("--if-missing") && await peersInstalled()) Deno.exit(0);
  console.error("installing the test peers (npm ci in tests/peers)…");
  if (!(await installPeers())) {
    // Not fatal here: outside CI the peer tests then skip with a message; under CI they fail.
    console.error("npm ci in tests/peers failed: the peer tests will skip (or fail under CI=true)");
  }
}
