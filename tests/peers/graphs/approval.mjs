// A LangGraph graph with one approval gate (interrupt), used by the upstream tests.
import { Annotation, END, interrupt, START, StateGraph } from "@langchain/langgraph";

const State = Annotation.Root({
  prompt: Annotation(),
  offer: Annotation(),
  answer: Annotation(),
  booked: Annotation(),
});

export const graph = new StateGraph(State)
  .addNode("quote", (s) => ({ offer: { item: s.prompt ?? "room", price: 120 } }))
  .addNode("approval", (s) => {
    const answer = interrupt({
      message: `Approve ${s.offer.item} at $${s.offer.price}?`,
      options: ["approve", "reject"],
    });
    return { answer };
  })
  .addNode("book", (s) => ({ booked: s.answer?.decision === "approve" }))
  .addEdge(START, "quote")
  .addEdge("quote", "approval")
  .addEdge("approval", "book")
  .addEdge("book", END)
  .compile();
