/**
 * LangGraph's checkpointer conformance suite against {@link DenoKvSaver}, run by vitest (not by
 * `deno test`): `deno run -A npm:vitest@4.1.12 run --globals <this file>`. Each checkpointer gets
 * its own `:memory:` KV.
 */
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { DenoKvSaver } from "../../lib/kv_checkpoint/mod.ts";

const open = new Map<DenoKvSaver, Deno.Kv>();

validate({
  checkpointerName: "DenoKvSaver",
  async createCheckpointer() {
    const kv = await Deno.openKv(":memory:");
    const saver = new DenoKvSaver(kv);
    open.set(saver, kv);
    return saver;
  },
  destroyCheckpointer(saver: DenoKvSaver) {
    open.get(saver)?.close();
    open.delete(saver);
  },
});
