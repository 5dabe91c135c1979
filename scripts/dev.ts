/**
 * `deno task dev`: regenerates `fresh.gen.ts`, rebuilds the islands and restarts the server
 * (`deno run -A main.ts`) whenever routes, islands, components or lib change. Static files are
 * served from disk, so changes there need no restart.
 * @module
 */
import { writeManifest } from "./manifest.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const WATCHED = ["routes", "islands", "components", "lib"];
const DEBOUNCE_MS = 150;

let server: Deno.ChildProcess | null = null;

async function buildAll(): Promise<void> {
  if (await writeManifest(ROOT)) console.log("dev: fresh.gen.ts updated");
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/build.ts"],
    cwd: ROOT,
  }).output();
  const decoder = new TextDecoder();
  console.log(decoder.decode(build.stdout).trim());
  if (!build.success) console.error("dev: build failed\n" + decoder.decode(build.stderr));
}

function start(): void {
  server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: ROOT,
    stdin: "null",
  }).spawn();
}

async function stop(): Promise<void> {
  const child = server;
  server = null;
  if (!child) return;
  try {
    child.kill("SIGTERM");
  } catch {
    return; // already exited
  }
  // A server stuck in shutdown must not block the next start.
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* exited meanwhile */ }
  }, 3000);
  await child.status;
  clearTimeout(timer);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

if (import.meta.main) {
  await buildAll();
  start();
  const dirs: string[] = [];
  for (const d of WATCHED) if (await exists(`${ROOT}/${d}`)) dirs.push(`${ROOT}/${d}`);
  console.log(`dev: watching ${WATCHED.join(", ")}`);

  Deno.addSignalListener("SIGINT", async () => {
    await stop();
    Deno.exit(0);
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  for await (const event of Deno.watchFs(dirs, { recursive: true })) {
    if (event.kind === "access" || event.paths.every((p) => /\/\.|~$/.test(p))) continue;
    clearTimeout(timer);
    timer = setTimeout(() => {
      // Serialise restarts: a change during a rebuild waits for it, then rebuilds again.
      running = running.then(async () => {
        console.log("dev: change detected, restarting");
        await stop();
        await buildAll();
        start();
      });
    }, DEBOUNCE_MS);
  }
}
