/**
 * JSON-lines logging with `LOG_LEVEL`. One object per line on stderr, with the time, level,
 * message and fields (request id, run id …) so lines can be filtered by any of them.
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger. `child` returns one that adds `fields` to every line. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Where lines go; tests pass an array's `push`. */
export type LogSink = (line: string) => void;

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

/** Creates a logger writing JSON lines at or above `level` to `sink` (default stderr). */
export function createLogger(
  level: LogLevel = "info",
  sink: LogSink = stderrSink,
  base: LogFields = {},
): Logger {
  const min = RANK[level];
  const write = (lvl: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    const line: LogFields = { time: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields) { for (const [k, v] of Object.entries(fields)) line[k] = errorFields(v); }
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ time: line.time, level: lvl, msg, note: "unserializable fields" });
    }
    sink(text);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger(level, sink, { ...base, ...fields }),
  };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = createLogger("silent");
