/**
 * `deno task doctor [URL]`: checks that Workflow Stream works end to end and says how to fix
 * what does not. One ✓/✗ line per check (each ✗ with its fix); exit code 1 when any failed.
 *
 * Checks: the configuration (environment and `.env` if present), the gateway's `/health`, the
 * workflow service's health, its graph list, `/metrics`, and one real streamed run: events
 * arrive with the right stream headers, a heartbeat is seen, approval gates are approved, and a
 * terminal event ends the run.
 *
 * Without URL the app is started in this process on 127.0.0.1, port 0, with a short
 * `HEARTBEAT_MS` and an in-memory run log (nothing is written); with URL that deployment is
 * checked (send `GATEWAY_TOKEN` from the environment when it has one).
 * @module
 */
import { type Config, CONFIG_VARIABLES, ConfigError, loadConfig } from "../lib/config.ts";
import { createFrameParser, type SseFrame } from "../lib/sse/parse.ts";

/** One check's outcome. */
export interface Check {
  ok: boolean;
  name: string;
  detail: string;
  /** How to fix it (failed checks). */
  fix?: string;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** A deployment to check; without it the app is started in-process. */
  url?: string;
  /** The environment (default: the process's). `.env` values fill in what it lacks. */
  env?: Record<string, string | undefined>;
  /** Path of the `.env` file (default `./.env`; ignored when missing). */
  envFile?: string;
  /** Receives each printed line (default: stdout). */
  print?: (line: string) => void;
  /** Heartbeat interval of the in-process app (ms, default 200). */
  heartbeatMs?: number;
  /** Step delay of the in-process built-in service (ms, default 250: heartbeats fit between). */
  stepDelayMs?: number;
  /** How long the streamed run may take in all (ms, default 30 000). */
  timeoutMs?: number;
}

/** The result: every check, and whether all passed. */
export interface DoctorReport {
  ok: boolean;
  checks: Check[];
}

/** Deploy refuses these prefixes for environment variables. */
const RESERVED_PREFIX = /^(DENO_|LD_|OTEL_)/;

/** Parses `.env` text: `KEY=value` lines, `#` comments, optional quotes, `export ` prefix. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const q = /^(["'])(.*)\1$/.exec(value);
    if (q) value = q[2];
    else value = value.replace(/\s+#.*$/, "");
    out[m[1]] = value;
  }
  return out;
}

/** Keys `loadConfig` reads (README "Configuration", `.env.example`), from the config schema itself. */
export function knownKeys(): Set<string> {
  return new Set(CONFIG_VARIABLES);
}

/** Reads an SSE body with a deadline, reporting frames and comments as they come. */
async function readStream(
  res: Response,
  onFrame: (f: SseFrame) => boolean | void,
  onComment: (c: string) => boolean | void,
  deadline: number,
): Promise<"stopped" | "ended" | "timeout"> {
  let stop = false;
  const parser = createFrameParser((f) => {
    if (onFrame(f)) stop = true;
  }, {
    onComment: (c) => {
      if (onComment(c)) stop = true;
    },
  });
  const reader = res.body!.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
  });
  try {
    while (true) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === "timeout") return "timeout";
      if (r.done) {
        parser.end();
        return "ended";
      }
      parser.feed(r.value);
      if (stop) return "stopped";
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}

async function fetchWithin(url: string, init: RequestInit, ms: number): Promise<Response> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    return await fetch(url, { ...init, signal: ctl.signal });
  } finally {
    clearTimeout(timer);
  }
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs every check; prints as it goes; never throws for a failed check. */
export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const print = opts.print ?? ((line: string) => console.log(line));
  const checks: Check[] = [];
  const report = (c: Check) => {
    checks.push(c);
    print(`${c.ok ? "✓" : "✗"} ${c.name} — ${c.detail}`);
    if (!c.ok && c.fix) print(`    fix: ${c.fix}`);
  };
  const done = () => ({ ok: checks.every((c) => c.ok), checks });

  // 1. Configuration: the environment, with .env filling in.
  const env: Record<string, string | undefined> = { ...(opts.env ?? Deno.env.toObject()) };
  const envFile = opts.envFile ?? ".env";
  let dotenv: Record<string, string> | null = null;
  try {
    dotenv = parseDotEnv(await Deno.readTextFile(envFile));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      report({
        ok: false,
        name: ".env",
        detail: `cannot read ${envFile}: ${describeError(err)}`,
        fix: "make the file readable, or remove it",
      });
    }
  }
  if (dotenv) {
    const known = knownKeys();
    const unknown = Object.keys(dotenv).filter((k) => !known.has(k));
    const reserved = Object.keys(dotenv).filter((k) => RESERVED_PREFIX.test(k));
    report({
      ok: unknown.length === 0 && reserved.length === 0,
      name: ".env",
      detail: unknown.length + reserved.length === 0
        ? `${envFile}: ${Object.keys(dotenv).length} variables, all known`
        : `${envFile}: ${[...new Set([...unknown, ...reserved])].join(", ")} ${
          unknown.length ? "not read by the app (typo?)" : ""
        }${reserved.length ? " (Deno Deploy refuses DENO_, LD_ and OTEL_ names)" : ""}`,
      fix: "compare with .env.example and rename or remove those lines",
    });
    for (const [k, v] of Object.entries(dotenv)) if (env[k] === undefined) env[k] = v;
  }
  let config: Config;
  try {
    config = loadConfig(env);
    report({
      ok: true,
      name: "configuration",
      detail: `valid; workflow service ${config.mode}${
        config.WORKFLOW_SERVICE_URL ? ` at ${new URL(config.WORKFLOW_SERVICE_URL).origin}` : ""
      }`,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    report({
      ok: false,
      name: "configuration",
      detail: err.message.replaceAll("\n", " "),
      fix: `correct ${err.variables.join(", ")} (see .env.example for each variable's form)`,
    });
    return done();
  }

  // 2. The gateway: the given deployment, or this app started here.
  let base = opts.url?.replace(/\/+$/, "");
  let stopLocal: (() => Promise<void>) | null = null;
  if (!base) {
    try {
      const local = await startLocal(env, opts.heartbeatMs ?? 200, opts.stepDelayMs ?? 250);
      base = local.url;
      stopLocal = local.close;
      report({ ok: true, name: "start", detail: `app started in-process at ${base}` });
    } catch (err) {
      report({
        ok: false,
        name: "start",
        detail: `the app did not start: ${describeError(err)}`,
        fix: "run `deno task start` to see the full error; check the configuration above",
      });
      return done();
    }
  }
  try {
    await checkGateway(base, config, opts.timeoutMs ?? 30_000, report);
  } finally {
    await stopLocal?.();
  }
  return done();
}

async function startLocal(
  env: Record<string, string | undefined>,
  heartbeatMs: number,
  stepDelayMs: number,
): Promise<{ url: string; close: () => Promise<void> }> {
  // Imported here so checking a deployment never loads the app.
  const { createApp } = await import("../lib/app.ts");
  const { createServices } = await import("../lib/services.ts");
  const { silentLogger } = await import("../lib/log.ts");
  const config = loadConfig({
    ...env,
    KV_PATH: ":memory:",
    HEARTBEAT_MS: String(heartbeatMs),
    WORKFLOW_STEP_DELAY_MS: String(stepDelayMs),
    RATE_LIMIT_PER_MINUTE: "0",
  });
  const services = await createServices(config, { logger: silentLogger });
  const app = createApp({ services, logger: silentLogger });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.handler());
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async close() {
      await services.close();
      await server.shutdown();
    },
  };
}

async function checkGateway(
  base: string,
  config: Config,
  timeoutMs: number,
  report: (c: Check) => void,
): Promise<void> {
  const auth: Record<string, string> = config.GATEWAY_TOKEN
    ? { authorization: `Bearer ${config.GATEWAY_TOKEN}` }
    : {};

  // /health, and through it the workflow service's health.
  let health: Record<string, unknown> | null = null;
  try {
    // With a token set, /health shows its details only to a caller that sends it.
    const res = await fetchWithin(`${base}/health`, { headers: auth }, 10_000);
    const body = await res.json().catch(() => null);
    health = body;
    report({
      ok: res.status === 200 && body?.status === "ok",
      name: "gateway /health",
      detail: `${res.status} ${
        body ? `status ${body.status}, version ${body.version}` : "(not JSON)"
      }`,
      fix: "the gateway answers but is degraded: see the workflow service check below",
    });
  } catch (err) {
    report({
      ok: false,
      name: "gateway /health",
      detail: `no answer from ${base}: ${describeError(err)}`,
      fix: "start the gateway (`deno task start`) or check the URL, port and firewall",
    });
    return;
  }
  const ws = health?.workflow_service as
    | { reachable?: boolean; mode?: string; url?: string; latency_ms?: number; error?: string }
    | undefined;
  report({
    ok: ws?.reachable === true,
    name: "workflow service health",
    detail: ws
      ? `${ws.mode} (${ws.url}): ${
        ws.reachable
          ? `reachable in ${ws.latency_ms} ms`
          : `unreachable${ws.error ? `: ${ws.error}` : ""}`
      }`
      : "not reported by /health",
    fix: ws?.mode === "external"
      ? "start the workflow service (`deno task workflow`) and check WORKFLOW_SERVICE_URL and WORKFLOW_SERVICE_TOKEN"
      : "the built-in service failed to load: run `deno task start` and read its log",
  });

  // Graphs: the run below needs one.
  let graph = config.DEFAULT_GRAPH;
  let prompt = "Book two nights for Ada Lovelace from 2026-05-01, standard room";
  try {
    const res = await fetchWithin(`${base}/agui/graphs`, { headers: auth }, 10_000);
    const body = await res.json().catch(() => null);
    const graphs = (body?.graphs ?? []) as Array<{ name: string; example_prompt?: string }>;
    const chosen = graphs.find((g) => g.name === graph) ?? graphs[0];
    if (chosen) {
      graph = chosen.name;
      if (chosen.example_prompt) prompt = chosen.example_prompt;
    }
    report({
      ok: res.status === 200 && graphs.length > 0,
      name: "graphs",
      detail: res.status === 200
        ? `${graphs.length} offered: ${graphs.map((g) => g.name).join(", ")}`
        : `${res.status} ${body?.error ?? ""} ${body?.message ?? ""}`.trim(),
      fix: res.status === 401
        ? "set GATEWAY_TOKEN in the environment to the deployment's token"
        : 'the workflow service must answer GET /graphs (README, "HTTP API")',
    });
  } catch (err) {
    report({
      ok: false,
      name: "graphs",
      detail: describeError(err),
      fix: "check the gateway's log",
    });
  }

  // /metrics.
  try {
    const res = await fetchWithin(`${base}/metrics`, { headers: auth }, 10_000);
    const text = await res.text();
    report({
      ok: res.status === 200 && text.includes("workflow_open_streams"),
      name: "metrics",
      detail: `${res.status}, ${
        text.split("\n").filter((l) => l && !l.startsWith("#")).length
      } samples`,
      fix: res.status === 401
        ? "set GATEWAY_TOKEN in the environment to the deployment's token"
        : "GET /metrics must answer Prometheus text",
    });
  } catch (err) {
    report({ ok: false, name: "metrics", detail: describeError(err), fix: "check the gateway" });
  }

  await checkRun(base, auth, graph, prompt, timeoutMs, report);
}

async function checkRun(
  base: string,
  auth: Record<string, string>,
  graph: string,
  prompt: string,
  timeoutMs: number,
  report: (c: Check) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const runId = `doctor-${crypto.randomUUID()}`;
  const types: string[] = [];
  let lastSeq = 0;
  let heartbeats = 0;
  let gate: { stepId: string } | null = null;
  let terminal: SseFrame | null = null;

  const onFrame = (f: SseFrame) => {
    if (f.id && /^\d+$/.test(f.id)) lastSeq = Number(f.id);
    types.push(f.event);
    if (f.event === "approval_required") {
      try {
        gate = { stepId: String(JSON.parse(f.data).stepId) };
      } catch {
        gate = null;
      }
    }
    if (["workflow_complete", "workflow_error", "workflow_aborted"].includes(f.event)) {
      terminal = f;
      return true;
    }
  };
  // After a gate, wait for one heartbeat before approving: a paused run's stream must stay alive.
  const onComment = (c: string) => {
    if (c.trim() === "heartbeat") heartbeats++;
    return gate !== null && heartbeats > 0;
  };

  let res: Response;
  try {
    res = await fetchWithin(`${base}/agui`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ graph_name: graph, initial_state: { prompt }, run_id: runId }),
    }, 15_000);
  } catch (err) {
    report({
      ok: false,
      name: "streamed run",
      detail: `POST /agui failed: ${describeError(err)}`,
      fix: "check the gateway's log",
    });
    return;
  }
  const ct = res.headers.get("content-type") ?? "";
  const streamOk = res.status === 200 && ct.startsWith("text/event-stream");
  report({
    ok: streamOk,
    name: "stream opens",
    detail: streamOk
      ? `200 ${ct}, run ${runId}, cache-control ${res.headers.get("cache-control")}`
      : `${res.status} ${ct} ${(await res.text().catch(() => "")).slice(0, 200)}`,
    fix: res.status === 401
      ? "set GATEWAY_TOKEN in the environment to the deployment's token"
      : res.status === 429
      ? "the rate limit refused the run: wait a minute or raise RATE_LIMIT_PER_MINUTE"
      : "a proxy in between may rewrite the response; the gateway's log says more",
  });
  if (!streamOk) return;

  let outcome = await readStream(res, onFrame, onComment, deadline);
  for (
    let approvals = 0;
    !terminal && gate && approvals < 5 && outcome !== "timeout";
    approvals++
  ) {
    const stepId: string = (gate as { stepId: string }).stepId;
    gate = null;
    // A network failure here is a failed check like any other, not a crash of the doctor.
    let ok: Response;
    try {
      ok = await fetchWithin(`${base}/agui/runs/${runId}/approval`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          stepId,
          decision: "approve",
          comment: "approved by deno task doctor",
        }),
      }, 15_000);
      await ok.body?.cancel();
    } catch (err) {
      report({
        ok: false,
        name: "approval",
        detail: `POST approval failed: ${describeError(err)}`,
        fix: "the gateway went away or a proxy dropped the request: check the gateway's log",
      });
      return;
    }
    if (ok.status !== 202) {
      report({
        ok: false,
        name: "approval",
        detail: `POST approval answered ${ok.status}`,
        fix: 'the gateway must accept a decision for a waiting step (README, "HTTP API")',
      });
      return;
    }
    let more: Response;
    try {
      more = await fetchWithin(`${base}/agui/runs/${runId}/events`, {
        headers: { ...auth, "last-event-id": String(lastSeq) },
      }, 15_000);
    } catch (err) {
      report({
        ok: false,
        name: "resume",
        detail: `GET events after ${lastSeq} failed: ${describeError(err)}`,
        fix: "the gateway went away or a proxy dropped the request: check the gateway's log",
      });
      break;
    }
    if (!more.ok) {
      report({
        ok: false,
        name: "resume",
        detail: `GET events after ${lastSeq} answered ${more.status}`,
        fix: 'the gateway must replay a run after Last-Event-ID (README, "HTTP API")',
      });
      await more.body?.cancel();
      break;
    }
    outcome = await readStream(more, onFrame, onComment, deadline);
  }

  report({
    ok: types.length > 0,
    name: "events arrive",
    detail: `${types.length} events: ${types.slice(0, 12).join(", ")}${
      types.length > 12 ? ", …" : ""
    }`,
    fix:
      "no event reached the client: check the workflow service and any proxy buffering (x-accel-buffering)",
  });
  const end = terminal as SseFrame | null;
  report({
    ok: end !== null && end.event === "workflow_complete",
    name: "terminal event",
    detail: end
      ? `${end.event}${end.event === "workflow_error" ? `: ${end.data.slice(0, 200)}` : ""}`
      : outcome === "timeout"
      ? `none within ${timeoutMs} ms`
      : "the stream ended without one",
    fix: end?.event === "workflow_error"
      ? "the run failed: read the error above and the workflow service's log"
      : "the run did not finish: check the workflow service and UPSTREAM_TIMEOUT_MS",
  });
  report({
    ok: heartbeats > 0,
    name: "heartbeat",
    detail: heartbeats > 0 ? `${heartbeats} seen` : "none seen during the run",
    fix:
      "heartbeats come every HEARTBEAT_MS of silence; a proxy that buffers responses hides them (set HEARTBEAT_MS lower to check)",
  });
}

if (import.meta.main) {
  const url = Deno.args.find((a) => !a.startsWith("-"));
  if (url && !/^https?:\/\//.test(url)) {
    console.error(`usage: deno task doctor [http(s)://gateway-url]  (got ${url})`);
    Deno.exit(2);
  }
  const report = await runDoctor({ url });
  console.log(
    report.ok
      ? `\nAll ${report.checks.length} checks passed.`
      : `\n${report.checks.filter((c) => !c.ok).length} of ${report.checks.length} checks failed.`,
  );
  Deno.exit(report.ok ? 0 : 1);
}
