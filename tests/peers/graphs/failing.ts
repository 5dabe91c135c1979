// A LangGraph graph whose second node throws, used by the upstream tests.
import { END, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";

const State = z.object({
  prompt: z.string().optional(),
  checked: z.boolean().optional(),
});

export const graph = new StateGraph(State)
  .addNode("check", () => ({ checked: true }))
  .addNode("charge", (): { checked: boolean } => {
    throw new Error("card declined");
  })
  .addEdge(START, "check")
  .addEdge("check", "charge")
  .addEdge("charge", END)
  .compile();
