/**
 * Browser half of `serialize.ts`, without a static dependency on `@preact/signals`: rebuilds
 * values from the table, keeping shared and circular references, and revives signals through a
 * factory the caller passes. The browser boot loads `@preact/signals` (~3.4 KB gzip) only when a
 * page's props hold a signal, so island pages that use none do not ship it. `deserialize.ts`
 * wraps this with the real signal factory for server code and tests.
 * @module
 */

/** Revives a custom `[tag, …]` entry (the server's `CustomEncoder` counterpart). */
export type CustomDecoder = (entry: unknown[], get: (index: number) => unknown) => unknown;

const CONSTANTS: Record<number, unknown> = {
  [-1]: undefined,
  [-2]: NaN,
  [-3]: Infinity,
  [-4]: -Infinity,
  [-5]: -0,
};

/** Makes an empty writable signal (`@preact/signals`' `signal`). */
export type SignalFactory = () => { value: unknown };

/** True when serialized text may hold a signal (false positives only cost a lazy import). */
export function mayHoldSignals(text: string): boolean {
  return text.includes('["Signal",');
}

/**
 * Parses serialized JSON text back into values; a signal in the data needs `makeSignal`.
 */
export function deserializeWith(
  text: string,
  custom?: Record<string, CustomDecoder>,
  makeSignal?: SignalFactory,
): unknown {
  const table = JSON.parse(text) as unknown[];
  if (!Array.isArray(table) || table.length === 0) throw new TypeError("Invalid serialized data");
  const done = new Map<number, unknown>();

  const get = (index: number): unknown => {
    if (index < 0) return CONSTANTS[index];
    if (done.has(index)) return done.get(index);
    const entry = table[index];
    if (entry === null || typeof entry !== "object") return entry;
    if (!Array.isArray(entry)) {
      const out: Record<string, unknown> = {};
      done.set(index, out);
      for (const key of Object.keys(entry)) {
        Object.defineProperty(out, key, {
          value: get((entry as Record<string, number>)[key]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (typeof entry[0] !== "string") {
      const out: unknown[] = [];
      done.set(index, out);
      for (const i of entry as number[]) out.push(get(i));
      return out;
    }
    const [tag, a, b] = entry as [string, unknown, unknown];
    switch (tag) {
      case "Signal": {
        if (!makeSignal) throw new TypeError("Serialized signal found but no signal factory given");
        const s = makeSignal();
        done.set(index, s);
        s.value = get(a as number);
        return s;
      }
      case "Date":
        return remember(index, new Date(a === null ? NaN : a as number));
      case "URL":
        return remember(index, new URL(a as string));
      case "RegExp":
        return remember(index, new RegExp(a as string, b as string));
      case "BigInt":
        return remember(index, BigInt(a as string));
      case "Map": {
        const map = new Map();
        done.set(index, map);
        const items = a as number[];
        for (let i = 0; i < items.length; i += 2) map.set(get(items[i]), get(items[i + 1]));
        return map;
      }
      case "Set": {
        const set = new Set();
        done.set(index, set);
        for (const i of a as number[]) set.add(get(i));
        return set;
      }
      default: {
        const decode = custom?.[tag];
        if (!decode) throw new TypeError(`Unknown serialized type "${tag}"`);
        return remember(index, decode(entry, get));
      }
    }
  };

  const remember = (index: number, value: unknown) => {
    done.set(index, value);
    return value;
  };

  return get(0);
}
