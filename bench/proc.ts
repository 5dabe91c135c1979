/**
 * Processes of the benchmark: the fake upstream, the real gateway (`main.ts`) and the floor
 * relay, each its own `deno run -A` child; the peer (`resumable-stream` on Redis, Node) with its
 * `redis-server`; nginx. And what Linux says about them (`/proc/<pid>`): CPU time of all threads
 * and resident memory.
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;

/** A spawned child process. */
export interface Child {
  /** Base URL (`http://127.0.0.1:<port>`). */
  url: string;
  /** Its process id (for the `/proc/<pid>` readings). */
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
 * `/health` until it answers 200. `root` is the checkout it runs from (its working directory,
 * so its own deno.json applies; default this one).
 */
export function spawnGateway(
  env: Record<string, string>,
  entry = "main.ts",
  root = ROOT,
): Promise<GatewayChild> {
  return spawnService(
    Deno.execPath(),
    ["run", "-A", ...gatewayFlags(), `${root}${entry}`],
    { LOG_LEVEL: "warn", ...env },
    freePort(),
    root,
  );
}

/**
 * The peer (`bench/peer/server.mjs`: `resumable-stream` on Redis in a Node server) in front of
 * the fake upstream. Its npm packages are installed on first use (`npm ci` in `bench/peer`).
 */
export async function spawnPeer(upstream: string, redisUrl: string): Promise<GatewayChild> {
  const dir = `${ROOT}bench/peer`;
  try {
    Deno.statSync(`${dir}/node_modules/resumable-stream`);
  } catch {
    const out = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund"],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`npm ci in bench/peer failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  return spawnService("node", [`${dir}/server.mjs`], {
    WORKFLOW_SERVICE_URL: upstream,
    REDIS_URL: redisUrl,
  });
}

/**
 * A throwaway `redis-server` (Debian's) on a free loopback port: no persistence, no config file.
 * Returns null when it is not installed.
 */
export async function spawnRedis(): Promise<(Child & { redisUrl: string }) | null> {
  if (!which("redis-server")) return null;
  const port = freePort();
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const err: string[] = [];
  const drained = collect(child.stderr, err);
  const stop = stopper(child, [drained]);
  const t0 = performance.now();
  for (;;) {
    if (performance.now() - t0 > 10_000) {
      await stop();
      throw new Error(`redis-server did not answer PING within 10 s: ${err.join("\n")}`);
    }
    if (await ping(port)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `tcp://127.0.0.1:${port}`,
    redisUrl: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    stderrTail: () => err.join("\n"),
    stop,
  };
}

async function ping(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

/**
 * nginx (Debian's) as a plain reverse proxy to the fake upstream with `proxy_buffering off`:
 * what a byte-for-byte relay costs in C. One worker. Returns null when it is not installed.
 */
export async function spawnNginx(upstream: string, dir: string): Promise<GatewayChild | null> {
  const nginx = which("nginx") ?? (exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : null);
  if (!nginx) return null;
  const port = freePort();
  const prefix = await Deno.makeTempDir({ dir, prefix: "nginx-" });
  const target = new URL(upstream);
  const conf = `worker_processes 1;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream fake { server ${target.host}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location = /health { return 200 "ok"; }
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`;
  await Deno.writeTextFile(`${prefix}/nginx.conf`, conf);
  return await spawnService(nginx, ["-p", prefix, "-c", `${prefix}/nginx.conf`], {}, port);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function which(cmd: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && exists(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return null;
}

/** Spawns `cmd args` with `env` and a free PORT, and polls its `/health` until it answers 200. */
async function spawnService(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  port = freePort(),
  cwd = ROOT,
): Promise<GatewayChild> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    env: { ...env, PORT: String(port) },
    stdin: "null",
    // BENCH_SHOW_STDOUT=1 shows the targets' stdout (e.g. V8's --trace-gc lines).
    stdout: Deno.env.get("BENCH_SHOW_STDOUT") === "1" ? "inherit" : "null",
    stderr: "piped",
  }).spawn();
  const err: string[] = [];
  const drained = collect(child.stderr, err);
  const url = `http://127.0.0.1:${port}`;
  const stop = stopper(child, [drained]);
  let exited = false;
  child.status.then(() => exited = true);
  for (;;) {
    if (exited) throw new Error(`${cmd} exited before /health: ${err.join("\n")}`);
    if (performance.now() - t0 > 20_000) {
      await stop();
      throw new Error(`${cmd} not healthy within 20 s: ${err.join("\n")}`);
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

/** `pid` and every process below it (nginx's workers, say), from `/proc/<pid>/task/*\/children`. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of Deno.readDirSync(`/proc/${out[i]}/task`)) {
        const text = Deno.readTextFileSync(`/proc/${out[i]}/task/${task.name}/children`).trim();
        if (text) { for (const c of text.split(/\s+/)) out.push(Number(c)); }
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
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

/**
 * What `pid` has written (`/proc/<pid>/io`): `bytes` sent to the block layer (Deno KV's WAL
 * frames and checkpoints; the page cache's writeback is charged to whoever dirtied the page)
 * and `calls`, its write system calls of any kind (sockets too).
 */
export function ioOf(pid: number): { bytes: number; calls: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/io`);
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)?.[1]);
  return { bytes: field("write_bytes"), calls: field("syscw") };
}

/** Resident memory of `pid` in KiB (`VmRSS`). */
export function rssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : NaN;
}
