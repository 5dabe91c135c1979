/**
 * The workflow service's graph list as the gateway's starts check it: cached for a minute, one
 * `/graphs` call shared by every start that arrives while it is out (a burst of new runs used to
 * make one call each before their first byte).
 * @module
 */
import { GatewayError } from "./errors.ts";
import type { Upstream } from "./upstream.ts";

/** How long the workflow service's graph list is trusted (ms). */
const GRAPHS_TTL_MS = 60_000;

/** The graph names the workflow service offers, as last read. */
export class GraphCatalog {
  readonly #upstream: Pick<Upstream, "graphs">;
  readonly #now: () => number;
  #graphs?: { names: Set<string>; at: number };
  #loading?: Promise<void>;

  /** A catalog read from `upstream.graphs()`, its age measured with `now` (ms). */
  constructor(upstream: Pick<Upstream, "graphs">, now: () => number) {
    this.#upstream = upstream;
    this.#now = now;
  }

  /**
   * Refuses a graph the workflow service does not offer (when it can say which it offers: a
   * service that cannot list its graphs refuses nothing here).
   * @throws {GatewayError} `unknown_graph`.
   */
  async check(graph: string): Promise<void> {
    const now = this.#now();
    if (!this.#graphs || now - this.#graphs.at > GRAPHS_TTL_MS) {
      this.#loading ??= this.#upstream.graphs().then((list) => {
        this.#graphs = { names: new Set(list.map((g) => g.name)), at: now };
      }).finally(() => {
        this.#loading = undefined;
      });
      try {
        await this.#loading;
      } catch {
        return;
      }
    }
    if (!this.#graphs?.names.has(graph)) {
      if (!this.#graphs) return;
      throw new GatewayError(`Unknown graph: ${graph}`, {
        type: "unknown_graph",
        details: { graphs: [...this.#graphs.names] },
      });
    }
  }
}
