/**
 * What every check of `deno task doctor` shares: the outcome it reports, and the two helpers
 * each one uses to reach the gateway and to word a failure.
 * @module
 */

/** One check's outcome. */
export interface Check {
  /** Whether it passed. */
  ok: boolean;
  /** What was checked, printed first on its line. */
  name: string;
  /** What was seen. */
  detail: string;
  /** How to fix it (failed checks). */
  fix?: string;
}

/** Records and prints one check's outcome. */
export type Report = (c: Check) => void;

/** `fetch` that gives up after `ms`: a gateway that never answers is a failed check, not a hang. */
export async function fetchWithin(url: string, init: RequestInit, ms: number): Promise<Response> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    return await fetch(url, { ...init, signal: ctl.signal });
  } finally {
    clearTimeout(timer);
  }
}

/** The message of a thrown value, for a check's detail. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
