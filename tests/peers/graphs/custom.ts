// A LangGraph graph that writes custom events (progress, a document), used by the upstream tests.
import { END, type LangGraphRunnableConfig, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";

const State = z.object({
  prompt: z.string().optional(),
  count: z.number().optional(),
  delay_ms: z.number().optional(),
});
type S = z.infer<typeof State>;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const graph = new StateGraph(State)
  .addNode("work", async (s: S, config: LangGraphRunnableConfig) => {
    const n = Number(s.count ?? 3);
    const delay = Number(s.delay_ms ?? 0);
    for (let i = 1; i <= n; i++) {
      config.writer?.({ progress: i / n, message: `item ${i} of ${n}` });
      if (delay) await pause(delay);
    }
    config.writer?.({
      name: "report",
      mime: "application/json",
      content: { items: n },
    });
    return { count: n };
  })
  .addEdge(START, "work")
  .addEdge("work", END)
  .compile();
