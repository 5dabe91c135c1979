/**
 * A LangGraph checkpoint saver on Deno KV. Depends only on Deno KV and LangGraph packages. The
 * keys and records it writes are described in `layout.ts`.
 *
 * Parts are written first; a checkpoint's record and its new channel values commit in one atomic
 * operation (as do the writes of one `putWrites`), so a reader sees a checkpoint whole or not at
 * all.
 * @module
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  compareWritesSortKeys,
  copyCheckpoint,
  getCheckpointId,
  maxChannelVersion,
  type PendingWrite,
  type SerializerProtocol,
  TASKS,
  WRITES_IDX_MAP,
  writesSortKey,
} from "@langchain/langgraph-checkpoint";
import {
  deletePrefix,
  getAll,
  loadBytes,
  type Serialized,
  type StoredValue,
  WriteBatch,
} from "./kv_values.ts";
import type { CheckpointRecord, Source, WriteRecord } from "./layout.ts";

/** Options of {@link DenoKvSaver}. */
export interface DenoKvSaverOptions {
  /** Key prefix of everything the saver writes (default `["lg_ckpt"]`). */
  prefix?: Deno.KvKey;
  /**
   * Expiry (ms) applied to every key the saver writes. A checkpoint never outlives a value it
   * points at, and a put rewrites carried values with less than half of this left, so the
   * newest checkpoint of a thread lives between `expireIn / 2` and `expireIn` after its put.
   */
  expireIn?: number;
  /** Clock (ms since epoch) used for expiry bookkeeping; `Date.now` by default. */
  now?: () => number;
  /** Serializer (LangGraph's JSON+ serializer by default). */
  serde?: SerializerProtocol;
}

/** LangGraph checkpoint saver storing checkpoints and pending writes in Deno KV. */
export class DenoKvSaver extends BaseCheckpointSaver {
  readonly #kv: Deno.Kv;
  readonly #prefix: Deno.KvKey;
  readonly #expireIn?: number;
  readonly #now: () => number;

  /**
   * A saver writing under `options.prefix` of `kv`.
   * @param kv an open Deno KV (the saver never closes it)
   * @param options key prefix and expiry
   */
  constructor(kv: Deno.Kv, options: DenoKvSaverOptions = {}) {
    super(options.serde);
    if (options.expireIn !== undefined && !(options.expireIn >= 1)) {
      throw new RangeError("expireIn must be a number of milliseconds ≥ 1");
    }
    this.#kv = kv;
    this.#prefix = options.prefix ?? ["lg_ckpt"];
    this.#expireIn = options.expireIn === undefined ? undefined : Math.ceil(options.expireIn);
    this.#now = options.now ?? Date.now;
  }

  #key(...parts: Deno.KvKeyPart[]): Deno.KvKey {
    return [...this.#prefix, ...parts];
  }

  #partsOf(thread: string) {
    return (blob: string): Deno.KvKey => this.#key("part", thread, blob);
  }

  async #load(thread: string, value: StoredValue): Promise<unknown> {
    const bytes = await loadBytes(this.#kv, value, this.#partsOf(thread));
    return await this.serde.loadsTyped(value.t, bytes);
  }

  async #dump(value: unknown): Promise<Serialized> {
    const [type, bytes] = await this.serde.dumpsTyped(value);
    return { type, bytes };
  }

  /** Fetches a checkpoint tuple by config (the thread's newest in its namespace without an id). */
  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const thread = config.configurable?.thread_id;
    if (thread === undefined || thread === null) return undefined;
    const ns: string = config.configurable?.checkpoint_ns ?? "";
    const id = getCheckpointId(config);
    if (id) {
      const entry = await this.#kv.get<CheckpointRecord>(this.#key("cp", thread, ns, id));
      if (entry.value === null) return undefined;
      return await this.#tuple(thread, ns, id, entry.value);
    }
    for await (
      const e of this.#kv.list<CheckpointRecord>({ prefix: this.#key("cp", thread, ns) }, {
        reverse: true,
        limit: 1,
      })
    ) {
      return await this.#tuple(thread, ns, e.key.at(-1) as string, e.value);
    }
    return undefined;
  }

  /** Lists checkpoints newest first, by thread and namespace when given (see MemorySaver). */
  async *list(
    config: RunnableConfig,
    options: CheckpointListOptions = {},
  ): AsyncGenerator<CheckpointTuple> {
    const { before, filter } = options;
    let limit = options.limit;
    const thread: string | undefined = config.configurable?.thread_id ?? undefined;
    const ns: string | undefined = config.configurable?.checkpoint_ns;
    const only: string | undefined = config.configurable?.checkpoint_id || undefined;
    const beforeId: string | undefined = before?.configurable?.checkpoint_id || undefined;
    const prefix = thread === undefined
      ? this.#key("cp")
      : ns === undefined
      ? this.#key("cp", thread)
      : this.#key("cp", thread, ns);
    const selector: Deno.KvListSelector = thread !== undefined && ns !== undefined && beforeId
      ? { prefix, end: [...prefix, beforeId] }
      : { prefix };
    for await (const e of this.#kv.list<CheckpointRecord>(selector, { reverse: true })) {
      if (limit !== undefined && limit <= 0) return;
      const [t, n, id] = e.key.slice(this.#prefix.length + 1) as [string, string, string];
      if (ns !== undefined && n !== ns) continue;
      if (only && id !== only) continue;
      if (beforeId && id >= beforeId) continue;
      if (filter && Object.keys(filter).length > 0) {
        const md = await this.#load(t, e.value.md) as Record<string, unknown>;
        if (!Object.entries(filter).every(([k, v]) => md?.[k] === v)) continue;
      }
      if (limit !== undefined) limit--;
      yield await this.#tuple(t, n, id, e.value);
    }
  }

  async #tuple(
    thread: string,
    ns: string,
    id: string,
    rec: CheckpointRecord,
  ): Promise<CheckpointTuple> {
    const channels = Object.keys(rec.src);
    const [checkpoint, metadata, values, pendingWrites] = await Promise.all([
      this.#load(thread, rec.cp) as Promise<Checkpoint>,
      this.#load(thread, rec.md) as Promise<CheckpointMetadata>,
      getAll<StoredValue>(
        this.#kv,
        channels.map((ch) => this.#key("ch", thread, ns, rec.src[ch][0], ch)),
      ),
      this.#writes(thread, ns, id),
    ]);
    const channelValues: Record<string, unknown> = {};
    await Promise.all(values.map(async (entry, i) => {
      if (entry.value === null) {
        throw new Error(
          `Checkpoint ${id} of thread ${thread} is incomplete: channel ${channels[i]} is ` +
            "missing (expired or deleted)",
        );
      }
      channelValues[channels[i]] = await this.#load(thread, entry.value);
    }));
    checkpoint.channel_values = channelValues;
    if (checkpoint.v < 4 && rec.parent !== undefined) {
      // Checkpoints before format 4 kept pending sends as the parent's TASKS writes.
      const sends = (await this.#writes(thread, ns, rec.parent))
        .filter(([, channel]) => channel === TASKS).map(([, , value]) => value);
      checkpoint.channel_values[TASKS] = sends;
      checkpoint.channel_versions ??= {};
      const versions = Object.values(checkpoint.channel_versions);
      checkpoint.channel_versions[TASKS] = versions.length > 0
        ? maxChannelVersion(...versions)
        : this.getNextVersion(undefined);
    }
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: id } },
      checkpoint,
      metadata,
      pendingWrites,
    };
    if (rec.parent !== undefined) {
      tuple.parentConfig = {
        configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: rec.parent },
      };
    }
    return tuple;
  }

  /** The pending writes of a checkpoint, in `writesSortKey` order. */
  async #writes(thread: string, ns: string, id: string): Promise<CheckpointPendingWrite[]> {
    const rows: { key: ReturnType<typeof writesSortKey>; task: string; rec: WriteRecord }[] = [];
    for await (const e of this.#kv.list<WriteRecord>({ prefix: this.#key("w", thread, ns, id) })) {
      const task = e.key.at(-2) as string;
      const idx = e.key.at(-1) as number;
      rows.push({ key: writesSortKey(e.value.path, task, idx), task, rec: e.value });
    }
    rows.sort((a, b) => compareWritesSortKeys(a.key, b.key));
    return await Promise.all(
      rows.map(async ({ task, rec }) =>
        [task, rec.c, await this.#load(thread, rec.v)] as CheckpointPendingWrite
      ),
    );
  }

  /**
   * Stores a checkpoint: the channels in `newVersions` get new values; the others point at the
   * parent checkpoint's (`config.configurable.checkpoint_id`).
   */
  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const thread = config.configurable?.thread_id;
    if (typeof thread !== "string" || thread === "") {
      throw new Error(
        'Failed to put checkpoint: config.configurable is missing a "thread_id" string.',
      );
    }
    const ns: string = config.configurable?.checkpoint_ns ?? "";
    const parentId: string | undefined = config.configurable?.checkpoint_id || undefined;
    const copy = copyCheckpoint(checkpoint);
    const values = copy.channel_values as Record<string, unknown>;
    copy.channel_values = {};
    const now = this.#now();
    const deadline = this.#expireIn === undefined ? 0 : now + this.#expireIn;

    const parent = parentId === undefined
      ? null
      : (await this.#kv.get<CheckpointRecord>(this.#key("cp", thread, ns, parentId))).value;
    const src: Record<string, Source> = {};
    const fresh: string[] = [];
    const carriedRefresh: string[] = [];
    for (const ch of Object.keys(copy.channel_versions ?? {})) {
      if (ch in newVersions) {
        if (ch in values && values[ch] !== undefined) fresh.push(ch);
        continue;
      }
      const from = parent?.src[ch];
      if (from === undefined) {
        // A parent that is gone (deleted, expired) or never stored this channel: the value
        // LangGraph passed is stored rather than dropped.
        if (parentId !== undefined && ch in values && values[ch] !== undefined) fresh.push(ch);
        continue;
      }
      // A carried value close to its expiry (or with one, when this saver sets none) is written
      // again, so this checkpoint lives as long as its own expiry says.
      const stale = this.#expireIn === undefined ? from[1] > 0 : from[1] - now < this.#expireIn / 2;
      if (stale) {
        carriedRefresh.push(ch);
      } else src[ch] = from;
    }
    for (const ch of Object.keys(newVersions)) {
      if (!(ch in (copy.channel_versions ?? {})) && ch in values && values[ch] !== undefined) {
        fresh.push(ch);
      }
    }
    const refreshed = await Promise.all(carriedRefresh.map(async (ch) => {
      const [from] = parent!.src[ch];
      const entry = await this.#kv.get<StoredValue>(this.#key("ch", thread, ns, from, ch));
      if (entry.value === null) {
        throw new Error(`Checkpoint ${parentId} of thread ${thread} lost channel ${ch}`);
      }
      const bytes = await loadBytes(this.#kv, entry.value, this.#partsOf(thread));
      return { type: entry.value.t, bytes };
    }));

    const batch = new WriteBatch((blob, i) => this.#key("part", thread, blob, i), this.#expireIn);
    const newChannels = [...fresh, ...carriedRefresh];
    const serialized = [
      ...await Promise.all(fresh.map((ch) => this.#dump(values[ch]))),
      ...refreshed,
    ];
    newChannels.forEach((ch, i) => {
      const [stored] = batch.place([serialized[i]]);
      batch.set(this.#key("ch", thread, ns, copy.id, ch), stored, { expireIn: this.#expireIn });
      src[ch] = [copy.id, deadline];
    });
    const [cp, md] = batch.place(
      await Promise.all([this.#dump(copy), this.#dump(metadata)]),
      256 + JSON.stringify(src).length,
    );
    const record: CheckpointRecord = { cp, md, src };
    if (parentId !== undefined) record.parent = parentId;
    batch.set(this.#key("cp", thread, ns, copy.id), record, {
      expireIn: this.#recordExpiry(src, now),
    });
    if (!await batch.commit(this.#kv)) throw new Error("Deno KV refused a checkpoint write");
    return { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: copy.id } };
  }

  /** A record expires no later than any value it points at. */
  #recordExpiry(src: Record<string, Source>, now: number): number | undefined {
    if (this.#expireIn === undefined) return undefined;
    let exp = now + this.#expireIn;
    for (const [, deadline] of Object.values(src)) if (deadline > 0) exp = Math.min(exp, deadline);
    return Math.max(1, exp - now);
  }

  /**
   * Stores a task's pending writes against a checkpoint, all in one atomic operation. A regular
   * write already stored (same task and index) is kept; special ones (errors, interrupts) replace.
   */
  async putWrites(
    config: RunnableConfig,
    writes: PendingWrite[],
    taskId: string,
    taskPath?: string,
  ): Promise<void> {
    const thread = config.configurable?.thread_id;
    const id: string | undefined = config.configurable?.checkpoint_id || undefined;
    if (typeof thread !== "string" || thread === "") {
      throw new Error('Failed to put writes: config.configurable is missing a "thread_id" string.');
    }
    if (id === undefined) {
      throw new Error('Failed to put writes: config.configurable is missing a "checkpoint_id".');
    }
    const ns: string = config.configurable?.checkpoint_ns ?? "";
    const rows = await Promise.all(writes.map(async ([channel, value], i) => ({
      channel,
      idx: WRITES_IDX_MAP[channel] ?? i,
      data: await this.#dump(value),
    })));
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await getAll<WriteRecord>(
        this.#kv,
        rows.map((r) => this.#key("w", thread, ns, id, taskId, r.idx)),
      );
      const batch = new WriteBatch((blob, i) => this.#key("part", thread, blob, i), this.#expireIn);
      rows.forEach((r, i) => {
        const regular = r.idx >= 0;
        if (regular && existing[i].versionstamp !== null) return;
        const [v] = batch.place([r.data]);
        const rec: WriteRecord = { c: r.channel, path: taskPath ?? "", v };
        batch.set(this.#key("w", thread, ns, id, taskId, r.idx), rec, {
          expireIn: this.#expireIn,
          ifAbsent: regular,
        });
      });
      if (await batch.commit(this.#kv)) {
        // Special writes replace: the parts of the value they replaced are dropped.
        const replaced = rows.flatMap((r, i) => {
          const v = existing[i].value?.v;
          return r.idx < 0 && v !== undefined && "p" in v ? [v.p] : [];
        });
        await Promise.all(
          replaced.map((blob) => deletePrefix(this.#kv, this.#partsOf(thread)(blob))),
        );
        return;
      }
    }
    throw new Error(`Failed to put writes of task ${taskId}: concurrent writers kept conflicting`);
  }

  /** Deletes every checkpoint, channel value, pending write and part of a thread. */
  async deleteThread(threadId: string): Promise<void> {
    // Records first, so a concurrent reader sees a checkpoint whole or not at all.
    for (const kind of ["cp", "ch", "w", "part"]) {
      await deletePrefix(this.#kv, this.#key(kind, threadId));
    }
  }
}
