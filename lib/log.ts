/**
 * JSON-lines logging with `LOG_LEVEL`. One object per line on stderr, with the time, level,
 * message and fields (request id, run id …) so lines can be filtered by any of them.
 *
 * Request scope: {@link withLogContext} binds fields (the request id) to everything that runs
 * inside a call, through `AsyncLocalStorage`, so every line any logger writes while serving a
 * request carries them, without threading a logger through every function signature. Work a
 * request starts that outlives it (a run's relay) keeps the request id of the request that
 * started it, next to its own `run_id`.
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger. `child` returns one that adds `fields` to every line. */
export interface Logger {
  /** Detail for debugging; written only when the level is `debug`. */
  debug(msg: string, fields?: LogFields): void;
  /** Normal operation (start, listening, runs); the default level. */
  info(msg: string, fields?: LogFields): void;
  /** Something unexpected that the process survives. */
  warn(msg: string, fields?: LogFields): void;
  /** A failure; an `Error` value in `fields` is written as its name and message. */
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line it writes. */
  child(fields: LogFields): Logger;
}

/** Where lines go; tests pass an array's `push`. */
export type LogSink = (line: string) => void;

const context = new AsyncLocalStorage<LogFields>();

/**
 * Runs `fn` with `fields` added to every log line written inside it (and inside the async work
 * it starts). Nested calls merge, inner fields winning.
 */
export function withLogContext<T>(fields: LogFields, fn: () => T): T {
  const outer = context.getStore();
  return context.run(outer ? { ...outer, ...fields } : fields, fn);
}

/** The fields bound by the enclosing {@link withLogContext}, if any. */
export function logContext(): LogFields | undefined {
  return context.getStore();
}

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed: logging must never take the server down.
  }
};

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/**
 * The logger: one object per logger, its methods on the prototype. A run keeps a child logger
 * for as long as it is relayed, so an idle run must not pay five closures for it.
 */
class JsonLogger implements Logger {
  readonly #min: number;
  constructor(
    readonly level: LogLevel,
    readonly sink: LogSink,
    readonly base: LogFields,
  ) {
    this.#min = RANK[level];
  }
  debug(msg: string, fields?: LogFields): void {
    this.#write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#write("error", msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.level, this.sink, { ...this.base, ...fields });
  }
  #write(lvl: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields): void {
    if (RANK[lvl] < this.#min) return;
    const line: LogFields = {
      time: new Date().toISOString(),
      level: lvl,
      msg,
      ...context.getStore(),
      ...this.base,
    };
    if (fields) { for (const [k, v] of Object.entries(fields)) line[k] = errorFields(v); }
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ time: line.time, level: lvl, msg, note: "unserializable fields" });
    }
    this.sink(text);
  }
}

/** Creates a logger writing JSON lines at or above `level` to `sink` (default stderr). */
export function createLogger(
  level: LogLevel = "info",
  sink: LogSink = stderrSink,
  base: LogFields = {},
): Logger {
  return new JsonLogger(level, sink, base);
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = createLogger("silent");
