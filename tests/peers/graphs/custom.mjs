// A LangGraph graph that writes custom events (progress, a document), used by the upstream tests.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  prompt: Annotation(),
  count: Annotation(),
  delay_ms: Annotation(),
});
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

export const graph = new StateGraph(State)
  .addNode("work", async (s, config) => {
    const n = Number(s.count ?? 3);
    const delay = Number(s.delay_ms ?? 0);
    for (let i = 1; i <= n; i++) {
      config.writer?.({ progress: i / n, message: `item ${i} of ${n}` });
      if (delay) await pause(delay);
    }
    config.writer?.({ name: "report", mime: "application/json", content: { items: n } });
    return { count: n };
  })
  .addEdge(START, "work")
  .addEdge("work", END)
  .compile();
