/**
 * The run log (docs/architecture.md, "Run log"): the storage-agnostic contract, its Deno KV
 * implementation and the live tail they share.
 * @module
 */
export * from "./store.ts";
export {
  DEFAULT_KV_PATH,
  DEFAULT_POLL_MS,
  KvRunStore,
  type KvRunStoreOptions,
  openKvRunStore,
  type OpenKvRunStoreOptions,
} from "./kv_store.ts";
export { MAX_EVENT_BYTES } from "./kv_codec.ts";
export { type HeadState, LiveTail, type LiveTailOptions, type TailSource } from "./live_tail.ts";
