/**
 * LangGraph's checkpointer conformance suite against {@link DenoKvSaver}, run by vitest (not by
 * `deno test`): `deno run -A npm:vitest@4.1.12 run -c tests/conformance/vitest.config.ts`. Twice:
 * defaults on a `:memory:` KV, and with a prefix and an expiry on a temp file, each checkpointer
 * on a KV of its own.
 */
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { DenoKvSaver } from "../../lib/kv_checkpoint/mod.ts";

const open = new Map<DenoKvSaver, { kv: Deno.Kv; dir?: string }>();

async function destroy(saver: DenoKvSaver) {
  const held = open.get(saver);
  open.delete(saver);
  held?.kv.close();
  if (held?.dir) await Deno.remove(held.dir, { recursive: true });
}

validate({
  checkpointerName: "DenoKvSaver",
  async createCheckpointer() {
    const kv = await Deno.openKv(":memory:");
    const saver = new DenoKvSaver(kv);
    open.set(saver, { kv });
    return saver;
  },
  destroyCheckpointer: destroy,
});

validate({
  checkpointerName: "DenoKvSaver (file, prefix, expireIn)",
  async createCheckpointer() {
    const dir = await Deno.makeTempDir();
    const kv = await Deno.openKv(`${dir}/checkpoints.kv`);
    const saver = new DenoKvSaver(kv, { prefix: ["app", "lg"], expireIn: 3_600_000 });
    open.set(saver, { kv, dir });
    return saver;
  },
  destroyCheckpointer: destroy,
});
