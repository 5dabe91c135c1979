/**
 * The doctor's configuration check: the environment with `.env` filling in what it lacks,
 * `.env` names the app does not read or Deno Deploy refuses, and `loadConfig`'s verdict.
 * @module
 */
import { type Config, ConfigError, configVariables, loadConfig } from "../lib/config.ts";
import { describeError, type Report } from "./doctor_check.ts";

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
  return new Set(configVariables());
}

/** A configuration that loaded, and the environment (with `.env` merged in) it came from. */
export interface LoadedConfig {
  /** `baseEnv` with the `.env` values it lacked. */
  env: Record<string, string | undefined>;
  /** What `loadConfig` made of `env`. */
  config: Config;
}

/**
 * Reports the `.env` and configuration checks; null when the configuration is invalid, as
 * nothing after it can run. `envFile` is ignored when missing.
 */
export async function checkConfig(
  baseEnv: Record<string, string | undefined>,
  envFile: string,
  report: Report,
): Promise<LoadedConfig | null> {
  const env: Record<string, string | undefined> = { ...baseEnv };
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
  try {
    const config = loadConfig(env);
    report({
      ok: true,
      name: "configuration",
      detail: `valid; workflow service ${config.mode}${
        config.WORKFLOW_SERVICE_URL ? ` at ${new URL(config.WORKFLOW_SERVICE_URL).origin}` : ""
      }`,
    });
    return { env, config };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    report({
      ok: false,
      name: "configuration",
      detail: err.message.replaceAll("\n", " "),
      fix: `correct ${err.variables.join(", ")} (see .env.example for each variable's form)`,
    });
    return null;
  }
}
