/**
 * How the checkpoint saver stores serialized values in Deno KV: small values inline in the record
 * that uses them, big ones split into parts, and records committed in as few atomic operations as
 * Deno KV's limits allow, after their parts.
 *
 * Limits (Deno 2.9; Deno Deploy has the same): a value ≤ 65,536 bytes; per atomic operation ≤ 1,000
 * mutations, ≤ 819,200 bytes of keys and values, ≤ 81,920 bytes of keys; a key ≤ 2,048 bytes;
 * `getMany` ≤ 10 keys.
 * @module
 */

/** Bytes of inline values one record may carry (a record must stay under 64 KiB). */
export const INLINE_BYTES = 56 * 1024;
/** Size of one part of a big value. */
export const PART_BYTES = 63 * 1024;
/** Parts written per atomic operation (12 × 63 KiB stays under 819,200 bytes). */
const PARTS_PER_OP = 12;
/** Bytes of records (keys and values) one atomic commit may carry; the rest is headroom. */
const COMMIT_BYTES = 700_000;
/** Mutations one atomic commit may carry. */
const COMMIT_MUTATIONS = 900;
/** Key bytes one atomic commit may carry. */
const COMMIT_KEY_BYTES = 70_000;
/** Estimated bytes of a record's fields besides its inline values. */
const RECORD_OVERHEAD = 256;

/** A value as `SerializerProtocol.dumpsTyped` returns it. */
export interface Serialized {
  /** The serializer's type tag. */
  type: string;
  /** The serialized bytes. */
  bytes: Uint8Array;
}

/** A serialized value inside a record: its bytes inline, or a pointer to `n` parts of blob `p`. */
export type StoredValue =
  | { t: string; b: Uint8Array }
  | { t: string; p: string; n: number; len: number };

const encoder = new TextEncoder();

/** Rough encoded size of a key (UTF-8 of its parts plus framing). */
export function keyBytes(key: Deno.KvKey): number {
  let n = 0;
  for (const part of key) {
    n += typeof part === "string" ? encoder.encode(part).length + 2 : 10;
  }
  return n;
}

interface PendingSet {
  key: Deno.KvKey;
  value: unknown;
  bytes: number;
  expireIn?: number;
  /** Commit only if the key is absent (`versionstamp: null` check). */
  ifAbsent?: boolean;
}

/**
 * One write of records: collects parts and records, then {@link WriteBatch.commit} writes the
 * parts first (unreachable until a record points at them) and the records in one atomic
 * operation, or in several, in order, when they are over Deno KV's limits for one.
 */
export class WriteBatch {
  #parts: Array<[Deno.KvKey, Uint8Array]> = [];
  #sets: PendingSet[] = [];
  #inlineBytes = 0;

  /**
   * An empty batch.
   * @param partKey the key of part `i` of blob `blob`
   * @param expireIn expiry (ms) of every part written
   */
  constructor(
    private readonly partKey: (blob: string, i: number) => Deno.KvKey,
    private readonly expireIn?: number,
  ) {}

  /**
   * Places the values of one record: the smallest inline while the record and the commit have
   * room, the others in parts.
   */
  place(values: readonly Serialized[], overhead = RECORD_OVERHEAD): StoredValue[] {
    const order = values.map((_, i) => i).sort((a, b) =>
      values[a].bytes.length - values[b].bytes.length
    );
    const out = new Array<StoredValue>(values.length);
    let recordBytes = overhead;
    for (const i of order) {
      const { type, bytes } = values[i];
      const cost = bytes.length + type.length * 3 + 32;
      if (
        recordBytes + cost <= INLINE_BYTES && this.#inlineBytes + cost <= COMMIT_BYTES / 2
      ) {
        recordBytes += cost;
        this.#inlineBytes += cost;
        out[i] = { t: type, b: bytes };
      } else {
        out[i] = this.#split(values[i]);
      }
    }
    return out;
  }

  #split({ type, bytes }: Serialized): StoredValue {
    const blob = crypto.randomUUID();
    let n = 0;
    for (let at = 0; at < bytes.length; at += PART_BYTES, n++) {
      this.#parts.push([this.partKey(blob, n), bytes.subarray(at, at + PART_BYTES)]);
    }
    return { t: type, p: blob, n, len: bytes.length };
  }

  /** Adds a record to commit (records commit in the order they were added). */
  set(key: Deno.KvKey, value: unknown, options: { expireIn?: number; ifAbsent?: boolean } = {}) {
    const bytes = keyBytes(key) + RECORD_OVERHEAD + inlineBytesOf(value);
    this.#sets.push({ key, value, bytes, ...options });
  }

  /**
   * Writes the parts, then the records. Returns false when an `ifAbsent` check failed (that
   * operation wrote nothing; earlier ones stay).
   */
  async commit(kv: Deno.Kv): Promise<boolean> {
    for (let i = 0; i < this.#parts.length; i += PARTS_PER_OP) {
      const op = kv.atomic();
      for (const [key, value] of this.#parts.slice(i, i + PARTS_PER_OP)) {
        op.set(key, value, this.expireIn === undefined ? undefined : { expireIn: this.expireIn });
      }
      await mustCommit(op);
    }
    let op = kv.atomic();
    let bytes = 0;
    let mutations = 0;
    let keyTotal = 0;
    for (const s of this.#sets) {
      const kb = keyBytes(s.key);
      if (
        mutations > 0 &&
        (bytes + s.bytes > COMMIT_BYTES || mutations + 2 > COMMIT_MUTATIONS ||
          keyTotal + 2 * kb > COMMIT_KEY_BYTES)
      ) {
        if (!(await op.commit()).ok) return false;
        op = kv.atomic();
        bytes = mutations = keyTotal = 0;
      }
      if (s.ifAbsent) {
        op.check({ key: s.key, versionstamp: null });
        mutations++;
        keyTotal += kb;
      }
      op.set(s.key, s.value, s.expireIn === undefined ? undefined : { expireIn: s.expireIn });
      bytes += s.bytes;
      mutations++;
      keyTotal += kb;
    }
    if (mutations > 0) return (await op.commit()).ok;
    return true;
  }
}

/** Bytes of the inline values in a record (its `StoredValue` fields, one level deep). */
function inlineBytesOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  if (value instanceof Uint8Array) return value.length;
  let n = 0;
  for (const v of Object.values(value as Record<string, unknown>)) {
    if (v instanceof Uint8Array) n += v.length;
    else if (
      v !== null && typeof v === "object" && (v as { b?: unknown }).b instanceof Uint8Array
    ) {
      n += (v as { b: Uint8Array }).b.length;
    }
  }
  return n;
}

async function mustCommit(op: Deno.AtomicOperation): Promise<void> {
  const res = await op.commit();
  if (!res.ok) throw new Error("Deno KV refused a checkpoint write");
}

/**
 * The bytes of a stored value, reading its parts when it has some.
 * @throws {Error} when parts are missing (expired or deleted): never returns a torn value
 */
export async function loadBytes(
  kv: Deno.Kv,
  value: StoredValue,
  partsPrefix: (blob: string) => Deno.KvKey,
): Promise<Uint8Array> {
  if ("b" in value) return value.b;
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const e of kv.list<Uint8Array>({ prefix: partsPrefix(value.p) })) {
    chunks.push(e.value);
    total += e.value.length;
  }
  if (chunks.length !== value.n || total !== value.len) {
    throw new Error(
      `Checkpoint value ${value.p} is incomplete (${chunks.length}/${value.n} parts, ` +
        `${total}/${value.len} bytes): it expired or was deleted`,
    );
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Reads many keys, 10 per `getMany` (Deno KV's limit), in parallel. */
export async function getAll<T>(kv: Deno.Kv, keys: Deno.KvKey[]): Promise<Deno.KvEntryMaybe<T>[]> {
  const batches: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    batches.push(kv.getMany<T[]>(keys.slice(i, i + 10)));
  }
  return (await Promise.all(batches)).flat();
}

/** Deletes every key under `prefix`, 500 per atomic operation. */
export async function deletePrefix(kv: Deno.Kv, prefix: Deno.KvKey): Promise<void> {
  let op = kv.atomic();
  let n = 0;
  for await (const e of kv.list({ prefix })) {
    op.delete(e.key);
    if (++n === 500) {
      await op.commit();
      op = kv.atomic();
      n = 0;
    }
  }
  if (n > 0) await op.commit();
}
