// A LangGraph graph with one approval gate (interrupt), used by the upstream tests.
import {
  END,
  interrupt,
  type LangGraphRunnableConfig,
  START,
  StateGraph,
} from "@langchain/langgraph";
import { dispatchCustomEvent } from "@langchain/core/callbacks/dispatch";
import { z } from "zod";

const State = z.object({
  prompt: z.string().optional(),
  offer: z.object({ item: z.string(), price: z.number() }).optional(),
  answer: z.object({
    decision: z.string().optional(),
    comment: z.string().optional(),
    stepId: z.string().optional(),
  }).optional(),
  booked: z.boolean().optional(),
});
type S = z.infer<typeof State>;

export const graph = new StateGraph(State)
  .addNode(
    "quote",
    (s: S) => ({ offer: { item: s.prompt ?? "room", price: 120 } }),
  )
  .addNode("approval", (s: S) => {
    const answer = interrupt({
      message: `Approve ${s.offer!.item} at $${s.offer!.price}?`,
      options: ["approve", "reject"],
    });
    return { answer };
  })
  .addNode("book", async (s: S, config: LangGraphRunnableConfig) => {
    const booked = s.answer?.decision === "approve";
    // A text message to the user, as CopilotKit's `copilotkit_emit_message` sends one (AG-UI
    // agents turn it into TEXT_MESSAGE_* events; the LangGraph protocol does not ask for it).
    await dispatchCustomEvent("manually_emit_message", {
      message_id: crypto.randomUUID(),
      message: booked ? `Booked ${s.offer?.item}.` : `Not booked: ${s.offer?.item}.`,
    }, config);
    return { booked };
  })
  .addEdge(START, "quote")
  .addEdge("quote", "approval")
  .addEdge("approval", "book")
  .addEdge("book", END)
  .compile();
