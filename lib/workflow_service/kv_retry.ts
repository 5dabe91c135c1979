/**
 * A view of a `Deno.Kv` whose writes retry SQLite's "database is locked". Handles of one KV file
 * (another process, or the run log's own handle in this one) make a versionstamp-checked write fail
 * at once instead of waiting while they write; the service's thread writes and the checkpoint
 * saver's go through this view so that contention costs a short wait, never a failed run.
 * @module
 */

/** Retries of a write refused as locked (about two seconds in all). */
const BUSY_RETRIES = 60;

/** True for SQLite's "locked"/"busy" refusal. */
export function isBusy(err: unknown): boolean {
  return err instanceof Error && /database is locked|database is busy/i.test(err.message);
}

function pause(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(64, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `write` again while it fails as locked (up to {@link BUSY_RETRIES} times). */
export async function retryBusy<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= BUSY_RETRIES || !isBusy(err)) throw err;
      await pause(attempt + 1);
    }
  }
}

type Step = (op: Deno.AtomicOperation) => void;

/**
 * An atomic operation that records its steps, so a commit refused as locked is rebuilt on a new
 * operation and committed again.
 */
class RetryingAtomic {
  readonly #kv: Deno.Kv;
  readonly #steps: Step[] = [];
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }
  #add(step: Step): this {
    this.#steps.push(step);
    return this;
  }
  check(...checks: Deno.AtomicCheck[]): this {
    return this.#add((op) => op.check(...checks));
  }
  mutate(...mutations: Deno.KvMutation[]): this {
    return this.#add((op) => op.mutate(...mutations));
  }
  sum(key: Deno.KvKey, n: bigint): this {
    return this.#add((op) => op.sum(key, n));
  }
  min(key: Deno.KvKey, n: bigint): this {
    return this.#add((op) => op.min(key, n));
  }
  max(key: Deno.KvKey, n: bigint): this {
    return this.#add((op) => op.max(key, n));
  }
  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): this {
    return this.#add((op) => op.set(key, value, options));
  }
  delete(key: Deno.KvKey): this {
    return this.#add((op) => op.delete(key));
  }
  enqueue(value: unknown, options?: Parameters<Deno.AtomicOperation["enqueue"]>[1]): this {
    return this.#add((op) => op.enqueue(value, options));
  }
  commit(): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    return retryBusy(() => {
      const op = this.#kv.atomic();
      for (const step of this.#steps) step(op);
      return op.commit();
    });
  }
}

/** `kv` with `set`, `delete` and `atomic().commit()` retried while the file is locked. */
export function busyRetryingKv(kv: Deno.Kv): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === "atomic") {
        return () => new RetryingAtomic(target) as unknown as Deno.AtomicOperation;
      }
      if (prop === "set") {
        return (key: Deno.KvKey, value: unknown, options?: { expireIn?: number }) =>
          retryBusy(() => target.set(key, value, options));
      }
      if (prop === "delete") {
        return (key: Deno.KvKey) => retryBusy(() => target.delete(key));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
