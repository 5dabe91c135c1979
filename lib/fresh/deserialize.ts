/**
 * Browser half of `serialize.ts`: rebuilds values from the table, reviving signals as
 * `@preact/signals` signals and keeping shared and circular references. The logic lives in
 * `deserialize_core.ts` (no static signals import, for the browser boot); this adds the factory.
 * @module
 */
import { signal } from "@preact/signals";
import { type CustomDecoder, deserializeWith } from "./deserialize_core.ts";

export type { CustomDecoder } from "./deserialize_core.ts";

/** Parses serialized JSON text back into values. */
export function deserialize(text: string, custom?: Record<string, CustomDecoder>): unknown {
  return deserializeWith(text, custom, () => signal<unknown>(undefined));
}
