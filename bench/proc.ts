/**
 * Processes of the benchmark: the fake upstream and the real gateway (`main.ts`), each its own
 * `deno run -A` child, and what Linux says about them (`/proc/<pid>`): CPU time of all threads
 * and resident memory.
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;

/** A spawned child process. */
export interface Child {
  /** Base URL (`http://127.0.0.1:<port>`). */
  url: string;
  pid: number;
  /** The last lines it wrote on stderr (for error reports). */
  stderrTail(): string;
  /** Ends it (SIGTERM, then SIGKILL after 2 s) and waits for its exit. */
  stop(): Promise<void>;
}

function collect(stream: ReadableStream<Uint8Array>, lines: string[]): Promise<void> {
  return (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += dec.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, nl));
        if (lines.length > 50) lines.shift();
        buf = buf.slice(nl + 1);
      }
    }
  })().catch(() => {});
}

function stopper(child: Deno.ChildProcess, drained: Promise<void>[]): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        child.status,
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch {
              // already gone
            }
            resolve();
          }, 2_000);
        }),
      ]);
      clearTimeout(timer);
      await child.status;
      await Promise.all(drained);
    })();
}

/** Starts `bench/fake_upstream.ts` and waits for the port it prints. */
export async function spawnFake(): Promise<Child> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}bench/fake_upstream.ts`],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const err: string[] = [];
  const drainErr = collect(child.stderr, err);
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`fake upstream exited: ${err.join("\n")}`);
    text += dec.decode(value, { stream: true });
  }
  const { port } = JSON.parse(text.slice(0, text.indexOf("\n")));
  const out: string[] = [];
  const drainOut = (async () => {
    reader.releaseLock();
    await collect(child.stdout, out);
  })();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stderrTail: () => err.join("\n"),
    stop: stopper(child, [drainErr, drainOut]),
  };
}

/** A TCP port that was free a moment ago (the gateway logs its port only at `info`). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function gatewayFlags(): string[] {
  const raw = Deno.env.get("BENCH_GATEWAY_FLAGS")?.trim();
  return raw ? raw.split(/\s+/) : [];
}

/** A started gateway and how long it took from spawn to its first `/health` 200. */
export interface GatewayChild extends Child {
  /** ms from spawn to the first 200 of `/health`. */
  startMs: number;
}

/**
 * Spawns `deno run -A <entry>` (default `main.ts`, the gateway; the floor relay is
 * `bench/floor_relay.ts`) with `env` (plus a free PORT and LOG_LEVEL=warn unless given) and polls
 * `/health` until it answers 200.
 */
export async function spawnGateway(
  env: Record<string, string>,
  entry = "main.ts",
): Promise<GatewayChild> {
  const port = freePort();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    // BENCH_GATEWAY_FLAGS: extra `deno run` flags for profiling, e.g. `--v8-flags=--prof`.
    args: ["run", "-A", ...gatewayFlags(), `${ROOT}${entry}`],
    cwd: ROOT,
    env: { LOG_LEVEL: "warn", ...env, PORT: String(port) },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const err: string[] = [];
  const drained = collect(child.stderr, err);
  const url = `http://127.0.0.1:${port}`;
  const stop = stopper(child, [drained]);
  let exited = false;
  child.status.then(() => exited = true);
  for (;;) {
    if (exited) throw new Error(`gateway exited before /health: ${err.join("\n")}`);
    if (performance.now() - t0 > 20_000) {
      await stop();
      throw new Error(`gateway not healthy within 20 s: ${err.join("\n")}`);
    }
    try {
      const res = await fetch(`${url}/health`);
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return {
    url,
    pid: child.pid,
    startMs: performance.now() - t0,
    stderrTail: () => err.join("\n"),
    stop,
  };
}

/** CPU time (ns) used so far by all threads of `pid` (sum of `/proc/<pid>/task/*\/schedstat`). */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`);
      total += Number(text.split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

/** CPU time (ns) so far per thread of `pid`, keyed by `<thread name>#<tid>`. */
export function cpuNsByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const dir = `/proc/${pid}/task/${task.name}`;
      const name = Deno.readTextFileSync(`${dir}/comm`).trim();
      out.set(
        `${name}#${task.name}`,
        Number(Deno.readTextFileSync(`${dir}/schedstat`).split(" ")[0]),
      );
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Resident memory of `pid` in KiB (`VmRSS`). */
export function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : NaN;
}
