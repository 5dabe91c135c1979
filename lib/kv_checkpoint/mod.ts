/**
 * LangGraph checkpoints on Deno KV: {@link DenoKvSaver}, a `BaseCheckpointSaver` that another
 * Deno project can copy and use with only Deno KV and LangGraph packages.
 *
 * ```ts
 * import { DenoKvSaver } from "./lib/kv_checkpoint/mod.ts";
 * const kv = await Deno.openKv();
 * const app = graph.compile({ checkpointer: new DenoKvSaver(kv, { expireIn: 86_400_000 }) });
 * ```
 * @module
 */
export { DenoKvSaver, type DenoKvSaverOptions } from "./saver.ts";
