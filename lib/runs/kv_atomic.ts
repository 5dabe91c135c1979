/**
 * Committing Deno KV atomic operations on a file shared by processes: retries of SQLite's
 * "database is locked", and the pause after losing a version check.
 * @module
 */

/** Retries of a write SQLite refused as locked (about a second in all). */
const BUSY_RETRIES = 40;

/**
 * Commits an atomic operation built by `build`, retrying SQLite's "database is locked": with a
 * KV file shared by processes, a write whose version checks read first cannot upgrade its lock
 * while another process writes, and SQLite fails it at once instead of waiting.
 */
export async function commit(
  build: () => Deno.AtomicOperation,
): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
  for (let attempt = 0;; attempt++) {
    try {
      return await build().commit();
    } catch (err) {
      if (attempt >= BUSY_RETRIES || !isBusy(err)) throw err;
      await backoff(attempt + 1);
    }
  }
}

/**
 * A random pause after losing a version check: a writer whose cache is always fresh (it just
 * wrote) would otherwise win every race against one that must re-read first.
 */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(64, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isBusy(err: unknown): boolean {
  return err instanceof Error && /database is locked|database is busy/i.test(err.message);
}
