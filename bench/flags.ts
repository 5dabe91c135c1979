/**
 * The bench's command-line flags (listed in `main.ts`'s header) and the settings read from them.
 * @module
 */
import { parseArgs } from "node:util";

function parse(args: string[]) {
  return parseArgs({
    args,
    options: {
      rounds: { type: "string", default: "3" },
      "s1-events": { type: "string", default: "100000" },
      "s2-streams": { type: "string", default: "200" },
      "s2-rate": { type: "string", default: "100" },
      "s2-seconds": { type: "string", default: "5" },
      "s3-streams": { type: "string", default: "50" },
      "s3-rate": { type: "string", default: "20" },
      "s3-seconds": { type: "string", default: "5" },
      "hold-streams": { type: "string", default: "4000" },
      "hold-small-streams": { type: "string", default: "2000" },
      "hold-seconds": { type: "string", default: "5" },
      "hold-settle-seconds": { type: "string", default: "90" },
      "hold-heartbeat-ms": { type: "string", default: "1000" },
      "hold-young-mb": { type: "string", default: "4" },
      "start-runs": { type: "string", default: "5" },
      only: { type: "string", default: "s1,s2,s3,hold,start,js" },
      "kv-dir": { type: "string" },
      floor: { type: "string", default: "true" },
      durable: { type: "string", default: "true" },
      baseline: { type: "string" },
      peer: { type: "string", default: "true" },
      nginx: { type: "string", default: "true" },
    },
  }).values;
}

/** The flags' values as given (or their defaults), by name. */
export type FlagValues = ReturnType<typeof parse>;

/** The parsed flags and the settings derived from them. */
export interface BenchFlags {
  /** Every flag's value as given (or its default). */
  values: FlagValues;
  /** A flag's value as a number. */
  num: (name: keyof FlagValues) => number;
  /** The scenarios to run (`--only`). */
  only: Set<string>;
  /** Measured rounds per scenario (at least 1). */
  rounds: number;
  /** Also measure the floor relay (`floor_relay.ts`): what Deno itself costs, for comparison. */
  floor: boolean;
  /** Also measure the durable floor (`floor_relay.ts` with `FLOOR_DURABLE=1`). */
  durable: boolean;
  /** Another checkout's gateway, measured in the same rounds (`--baseline=DIR`). */
  baseline?: string;
}

/** Parses `args` (the bench's command line); unknown flags throw. */
export function parseFlags(args: string[]): BenchFlags {
  const values = parse(args);
  const num = (name: keyof FlagValues) => Number(values[name]);
  return {
    values,
    num,
    only: new Set(String(values.only).split(",")),
    rounds: Math.max(1, num("rounds")),
    floor: values.floor !== "false",
    durable: values.durable !== "false",
    baseline: values.baseline
      ? new URL(`${values.baseline.replace(/\/?$/, "/")}`, "file:///").pathname
      : undefined,
  };
}
