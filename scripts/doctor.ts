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
import { loadConfig } from "../lib/config.ts";
import { type Check, describeError } from "./doctor_check.ts";
import { checkConfig } from "./doctor_config.ts";
import { checkGateway } from "./doctor_gateway.ts";

export type { Check } from "./doctor_check.ts";
export { knownKeys, parseDotEnv } from "./doctor_config.ts";

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
  /** Whether every check passed. */
  ok: boolean;
  /** Every check, in the order run. */
  checks: Check[];
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
  const loaded = await checkConfig(opts.env ?? Deno.env.toObject(), opts.envFile ?? ".env", report);
  if (!loaded) return done();
  const { env, config } = loaded;

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
