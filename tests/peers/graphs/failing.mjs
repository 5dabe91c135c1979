// A LangGraph graph whose second node throws, used by the upstream tests.
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({ prompt: Annotation(), checked: Annotation() });

export const graph = new StateGraph(State)
  .addNode("check", () => ({ checked: true }))
  .addNode("charge", () => {
    throw new Error("card declined");
  })
  .addEdge(START, "check")
  .addEdge("check", "charge")
  .addEdge("charge", END)
  .compile();
