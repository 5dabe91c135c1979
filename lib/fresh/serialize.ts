/**
 * Serializes island props for the browser. The output is JSON text of a flat table (index 0 is
 * the root): primitives are stored as themselves; arrays as lists of table indices; plain objects
 * as `{key: index}`; other types as `[tag, …]`. Negative indices stand for values JSON cannot hold.
 * Repeated and circular references are kept (one signal shared by two islands stays one signal).
 * Supported: JSON values, undefined, NaN, ±Infinity, -0, bigint, Date, URL, RegExp, Map, Set and
 * `@preact/signals` signals (sent as their current value, revived as writable signals).
 * `deserialize.ts` is the browser half.
 * @module
 */
import { Signal } from "@preact/signals";

// Index constants for values JSON cannot represent; negative, so they never clash with a slot.
/** Stands for `undefined`. */
export const UNDEFINED: -1 = -1;
/** Stands for `NaN`. */
export const NAN: -2 = -2;
/** Stands for `Infinity`. */
export const POS_INF: -3 = -3;
/** Stands for `-Infinity`. */
export const NEG_INF: -4 = -4;
/** Stands for `-0` (JSON would print it as `0`). */
export const NEG_ZERO: -5 = -5;

/** Thrown when a value cannot be sent to the browser; `message` names where it was found. */
export class SerializeError extends Error {
  /**
   * Creates the error.
   * @param message what could not be serialized and where (a path such as `islands[0].x`)
   */
  constructor(message: string) {
    super(message);
    this.name = "SerializeError";
  }
}

/** Lets a caller encode extra types: return `[tag, …json]` to take a value, or undefined. */
export type CustomEncoder = (value: unknown, path: string) => unknown[] | undefined;

function describe(value: unknown): string {
  if (typeof value === "function") return `a function (${value.name || "anonymous"})`;
  if (typeof value === "symbol") return "a symbol";
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor ? `an instance of ${ctor}` : "an unsupported value";
}

/** Serializes `value` to JSON text; throws `SerializeError` for functions, symbols, classes. */
export function serialize(value: unknown, custom?: CustomEncoder, rootPath = "props"): string {
  const table: unknown[] = [];
  const seen = new Map<unknown, number>();

  const add = (v: unknown, path: string): number => {
    switch (typeof v) {
      case "undefined":
        return UNDEFINED;
      case "number":
        if (Number.isNaN(v)) return NAN;
        if (v === Infinity) return POS_INF;
        if (v === -Infinity) return NEG_INF;
        if (Object.is(v, -0)) return NEG_ZERO;
        return table.push(v) - 1;
      case "string":
      case "boolean":
        return table.push(v) - 1;
      case "bigint":
        return table.push(["BigInt", v.toString()]) - 1;
      case "function":
      case "symbol":
        throw new SerializeError(`Cannot serialize ${describe(v)} at ${path}`);
    }
    if (v === null) return table.push(null) - 1;
    const known = seen.get(v);
    if (known !== undefined) return known;
    const index = table.push(null) - 1;
    seen.set(v, index);
    table[index] = encodeObject(v as object, path);
    return index;
  };

  const encodeObject = (v: object, path: string): unknown => {
    const extra = custom?.(v, path);
    if (extra) return extra;
    if (v instanceof Signal) return ["Signal", add(v.peek(), `${path}.value`)];
    if (Array.isArray(v)) return Array.from(v, (item, i) => add(item, `${path}[${i}]`));
    if (v instanceof Date) {
      const time = v.getTime();
      return ["Date", Number.isNaN(time) ? null : time];
    }
    if (v instanceof URL) return ["URL", v.href];
    if (v instanceof RegExp) return ["RegExp", v.source, v.flags];
    if (v instanceof Map) {
      const out: number[] = [];
      let i = 0;
      for (const [k, val] of v) {
        out.push(add(k, `${path}.key(${i})`), add(val, `${path}.get(${i})`));
        i++;
      }
      return ["Map", out];
    }
    if (v instanceof Set) {
      return ["Set", Array.from(v, (item, i) => add(item, `${path}.item(${i})`))];
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new SerializeError(`Cannot serialize ${describe(v)} at ${path}`);
    }
    const out: Record<string, number> = {};
    for (const key of Object.keys(v)) {
      // defineProperty: a "__proto__" key must stay data, never become a prototype.
      Object.defineProperty(out, key, {
        value: add((v as Record<string, unknown>)[key], `${path}.${key}`),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };

  add(value, rootPath);
  return JSON.stringify(table);
}

/**
 * Makes JSON (or any JS literal text) safe inside an inline `<script>`: `<` can start neither
 * `</script>` nor `<!--`, and line separators are escaped for older parsers.
 */
export function escapeForScript(text: string): string {
  return text.replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}
