/**
 * Environment → typed configuration (`.env.example` documents each variable). Every value is
 * validated once at start; a bad value stops the process with a message that names the variable and
 * the expected form.
 * @module
 */
import { z } from "zod";
import { GRAPH_NAME_RE } from "./events.ts";

/** Default of `MAX_HEADER_BYTES`: the most bytes of request headers the app accepts. */
export const DEFAULT_MAX_HEADER_BYTES = 16_384;

/** The product's version, reported by `/health`. */
export const VERSION = "0.1.0";

// The schemas are built when the configuration is read and dropped after: kept at module level
// they would stay in the heap (~0.5 MB of zod objects) that every major GC marks, for one use.
const int = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, "an integer").transform(Number).pipe(
    z.number().int().min(min, `an integer from ${min} to ${max}`).max(
      max,
      `an integer from ${min} to ${max}`,
    ),
  );

/** One of `values`, with a message that lists them. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { message: `one of ${values.join(", ")}` });

/** One `ALLOWED_HOSTS` entry: a host name or IP, `.suffix` for its subdomains, or `*`. */
const HOST_PATTERN_RE = /^(\*|\.?[a-z0-9.-]+|\[[0-9a-f:.]+\])$/;

const httpUrl = () =>
  z.string().trim().refine((u) => {
    try {
      return /^https?:$/.test(new URL(u).protocol);
    } catch {
      return false;
    }
  }, "an http(s) URL");

const configShape = () => ({
  PORT: int(0, 65535).default(8000),
  WORKFLOW_PORT: int(0, 65535).default(8001),
  WORKFLOW_SERVICE_URL: httpUrl().optional(),
  WORKFLOW_SERVICE_TOKEN: z.string().min(1).optional(),
  WORKFLOW_SERVICE_PROTOCOL: oneOf(["execute", "langgraph", "agui"]).default("execute"),
  WORKFLOW_STEP_DELAY_MS: int(0, 60_000).default(400),
  WORKFLOW_EVENT_RETENTION: int(10, 1_000_000).default(10_000),
  WORKFLOW_LEASE_MS: int(100, 600_000).default(10_000),
  HEARTBEAT_MS: int(10, 15_000).default(15_000),
  GATEWAY_TOKEN: z.string().min(16, "at least 16 characters").optional(),
  ALLOWED_ORIGINS: z.string().optional().transform((v) =>
    (v ?? "").split(",").map((s) => s.trim()).filter(Boolean)
  ).pipe(
    z.array(
      z.union([z.literal("*"), httpUrl().transform((u) => new URL(u).origin)], {
        message: "comma-separated http(s) origins, or *",
      }),
    ),
  ),
  KV_PATH: z.string().min(1).optional(),
  RUN_TTL_HOURS: int(1, 24 * 365).default(24),
  MAX_BODY_BYTES: int(256, 16 * 1024 * 1024).default(65_536),
  // Deno's server itself refuses headers past ~64 KiB (bodiless 400): a larger budget is moot.
  MAX_HEADER_BYTES: int(1024, 65_536).default(DEFAULT_MAX_HEADER_BYTES),
  MAX_STREAMS: int(1, 1_000_000).default(10_000),
  UPSTREAM_TIMEOUT_MS: int(100, 600_000).default(30_000),
  MAX_STARTING_RUNS: int(1, 100_000).default(32),
  RELAY_LEASE_MS: int(100, 600_000).default(10_000),
  RELAY_SWEEP_MS: int(50, 600_000).default(1_000),
  ON_RELAY_LOST: oneOf(["leave", "abort"]).default("leave"),
  UPSTREAM_TRANSPORT: oneOf(["auto", "socket", "fetch"]).default("auto"),
  RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).default(60),
  // Unset: a sixth of the per-minute rate (at least 1), the limiter's own default.
  RATE_LIMIT_BURST: int(1, 1_000_000).optional(),
  // Security (README "Security"): each bounds what one client or one request may hold.
  ALLOWED_HOSTS: z.string().optional().transform((v) =>
    v === undefined ? undefined : v.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)
  ).pipe(
    z.array(z.string().regex(HOST_PATTERN_RE, "comma-separated host names, .suffixes or *"))
      .optional(),
  ),
  METRICS_TOKEN: z.string().min(16, "at least 16 characters").optional(),
  SESSION_TTL_HOURS: int(1, 24 * 30).default(12),
  MAX_STREAMS_PER_CLIENT: int(0, 1_000_000).default(64),
  RATE_LIMIT_EVENTS_PER_MINUTE: int(0, 1_000_000).default(120),
  RATE_LIMIT_ACTIONS_PER_MINUTE: int(0, 1_000_000).default(60),
  BODY_TIMEOUT_MS: int(100, 600_000).default(10_000),
  WAITING_STREAM_MAX_MS: int(1_000, 86_400_000).default(600_000),
  MAX_JSON_DEPTH: int(2, 1_000).default(64),
  WORKFLOW_HOST: z.string().trim().min(1).default("127.0.0.1"),
  DEFAULT_GRAPH: z.string().regex(GRAPH_NAME_RE, "lower snake case").default("hotel_o2c"),
  LOG_LEVEL: oneOf(["debug", "info", "warn", "error", "silent"]).default("info"),
});

const configSchema = () =>
  z.object(configShape()).superRefine((c, ctx) => {
    // Only the built-in service speaks `execute` in-process; the others need an address.
    if (c.WORKFLOW_SERVICE_PROTOCOL !== "execute" && c.WORKFLOW_SERVICE_URL === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["WORKFLOW_SERVICE_PROTOCOL"],
        message: `WORKFLOW_SERVICE_URL to be set with ${c.WORKFLOW_SERVICE_PROTOCOL}`,
      });
    }
  });

/** Every environment variable the configuration reads. */
export function configVariables(): readonly string[] {
  return Object.keys(configShape());
}

/** The validated configuration. */
export type Config = z.output<ReturnType<typeof configSchema>> & {
  /** `built-in` when `WORKFLOW_SERVICE_URL` is unset (LangGraph runs in-process). */
  mode: "built-in" | "external";
};

/** Raised when an environment variable is invalid; `message` names the variable. */
export class ConfigError extends Error {
  /** The offending variable names. */
  readonly variables: string[];
  /**
   * Creates the error.
   * @param message one line per invalid variable, naming it and the expected form
   * @param variables the names of the invalid variables
   */
  constructor(message: string, variables: string[]) {
    super(message);
    this.name = "ConfigError";
    this.variables = variables;
  }
}

/**
 * Reads the configuration from `env` (default: the process environment). Empty strings count as
 * unset, so `.env` templates with blank values keep defaults.
 * @throws {ConfigError} naming every invalid variable and the expected form.
 */
export function loadConfig(env: Record<string, string | undefined> = Deno.env.toObject()): Config {
  const schema = configSchema();
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== "") input[key] = v;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0]);
      return `${name}=${JSON.stringify(input[name] ?? "")}: expected ${i.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join("\n  ")}`, names);
  }
  return { ...parsed.data, mode: parsed.data.WORKFLOW_SERVICE_URL ? "external" : "built-in" };
}

/** A URL with any user name, password or query token removed, safe to show in `/health`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.origin + (u.pathname === "/" ? "" : u.pathname);
  } catch {
    return "(invalid url)";
  }
}
