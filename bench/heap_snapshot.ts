/**
 * Reads a V8 heap snapshot (the JSON of the inspector's `HeapProfiler.takeHeapSnapshot`) for
 * `heap_per_stream.ts`: objects counted by kind, and, for the objects allocated since an earlier
 * snapshot, what holds them: retainer paths of a few, retainer chains counted, the closures they
 * point to, and their bytes charged to the nearest structure that holds them.
 * @module
 */

/** Count and bytes per object kind ("type:name"). */
export type Census = Map<string, { count: number; bytes: number }>;

/** Kinds that say nothing of who holds an object: the walk to a holder goes past them. */
const GENERIC = new RegExp(
  "^(object:(Object|Array|Promise|system /.*|Generator|Deferred|Queue|Map|Set|Uint8Array|" +
    "ArrayBuffer|ReadableStream.*|AbortSignal|WeakRef|Function)?|array:.*|native:.*|" +
    "closure:(?!.*@lib/).*|string:.*|number:.*|code:.*|hidden:.*|object shape:.*|" +
    "concatenated string:.*|sliced string:.*)$",
);

/** A parsed heap snapshot; "new" objects are those with an id above `sinceId`. */
export class HeapGraph {
  readonly #nodes: number[];
  readonly #edges: number[];
  readonly #strings: string[];
  readonly #types: string[];
  readonly #edgeTypes: string[];
  readonly #nf: number;
  readonly #ef: number;
  readonly #f: { type: number; name: number; id: number; size: number; edges: number };
  readonly #e: { type: number; name: number; to: number };
  /** Where closures were defined (`@file:line`), by node index. */
  readonly #where = new Map<number, string>();
  readonly #sinceId: number;
  #by: Map<number, [number, string][]> | undefined;

  /**
   * `snap` is the snapshot's JSON, `scripts` maps the debugger's script ids to file names (to
   * name closures by where they were defined), `sinceId` the highest id of an earlier snapshot.
   */
  // deno-lint-ignore no-explicit-any
  constructor(snap: any, scripts: Map<string, string>, sinceId = 0) {
    const meta = snap.snapshot.meta;
    const fields: string[] = meta.node_fields;
    const ef: string[] = meta.edge_fields;
    this.#nodes = snap.nodes;
    this.#edges = snap.edges;
    this.#strings = snap.strings;
    this.#types = meta.node_types[0];
    this.#edgeTypes = meta.edge_types[0];
    this.#nf = fields.length;
    this.#ef = ef.length;
    this.#f = {
      type: fields.indexOf("type"),
      name: fields.indexOf("name"),
      id: fields.indexOf("id"),
      size: fields.indexOf("self_size"),
      edges: fields.indexOf("edge_count"),
    };
    this.#e = {
      type: ef.indexOf("type"),
      name: ef.indexOf("name_or_index"),
      to: ef.indexOf("to_node"),
    };
    this.#sinceId = sinceId;
    const locs: number[] = snap.locations ?? [];
    const lf: string[] = meta.location_fields;
    const [lObj, lScript, lLine] = ["object_index", "script_id", "line"].map((f) => lf.indexOf(f));
    for (let i = 0; i < locs.length; i += lf.length) {
      const file = (scripts.get(String(locs[i + lScript])) ?? "?")
        .replace(/^.*\/(lib|bench|ext|node_modules)\//, "$1/");
      this.#where.set(locs[i + lObj], `@${file}:${locs[i + lLine] + 1}`);
    }
  }

  /** The highest object id in this snapshot (the `sinceId` of a later one). */
  get maxId(): number {
    let max = 0;
    for (let i = 0; i < this.#nodes.length; i += this.#nf) {
      max = Math.max(max, this.#nodes[i + this.#f.id]);
    }
    return max;
  }

  /** Objects by kind (strings, numbers and code by type alone), and their total bytes. */
  census(): { census: Census; total: number } {
    const census: Census = new Map();
    let total = 0;
    for (let i = 0; i < this.#nodes.length; i += this.#nf) {
      const type = this.#type(i);
      let name = this.#strings[this.#nodes[i + this.#f.name]];
      if (/string$/.test(type) || type === "number" || type === "code") name = "";
      if (name.length > 60) name = name.slice(0, 60);
      const key = type === "closure"
        ? `${type}:${name}${this.#where.get(i) ?? ""}`
        : `${type}:${name}`;
      const size = this.#nodes[i + this.#f.size];
      total += size;
      const e = census.get(key);
      if (e) {
        e.count++;
        e.bytes += size;
      } else census.set(key, { count: 1, bytes: size });
    }
    return { census, total };
  }

  /** Retainer paths (breadth first, `fanout` retainers per step) of three new `match` objects. */
  retainerPaths(match: string, fanout = 4): string[] {
    const out: string[] = [];
    let shown = 0;
    for (let i = 0; i < this.#nodes.length && shown < 3; i += this.#nf) {
      if (!this.#isNew(i) || !this.name(i).includes(match)) continue;
      shown++;
      out.push(`retainers of ${this.name(i)}:`);
      const seen = new Set<number>([i]);
      let frontier = [i];
      for (let depth = 0; depth < 8 && frontier.length; depth++) {
        const next: number[] = [];
        for (const n of frontier) {
          for (const [from, edge] of this.#retainers(n).slice(0, fanout)) {
            if (seen.has(from)) continue;
            seen.add(from);
            next.push(from);
            out.push(`${"  ".repeat(depth + 1)}<- ${edge} of ${this.name(from)}`);
          }
        }
        frontier = next.slice(0, 6);
      }
    }
    return out;
  }

  /** Every new `match` object counted by its chain of first retainers, `depth` long. */
  retainerChains(match: string, depth: number): [string, number][] {
    const chains = new Map<string, number>();
    for (let i = 0; i < this.#nodes.length; i += this.#nf) {
      if (!this.#isNew(i) || !this.name(i).includes(match)) continue;
      const parts: string[] = [];
      this.#walkUp(i, depth, (from, edge) => {
        parts.push(`${edge} of ${this.name(from)}`);
        return false;
      });
      const key = parts.join("  <-  ");
      chains.set(key, (chains.get(key) ?? 0) + 1);
    }
    return [...chains].sort((a, b) => b[1] - a[1]);
  }

  /**
   * The bytes of every new object, charged to the nearest holder along its first retainers: an
   * object of a named class other than the generic ones, or a closure of the project's code,
   * with the edge it is held by (none within 16 steps: the last retainer reached).
   */
  bytesByHolder(): [string, number][] {
    const bytes = new Map<string, number>();
    for (let i = 0; i < this.#nodes.length; i += this.#nf) {
      if (!this.#isNew(i)) continue;
      let label = "";
      let top = i;
      this.#walkUp(i, 16, (from, edge, at) => {
        top = from;
        if (GENERIC.test(this.name(from))) return false;
        label = `${this.name(from)} -> ${edge} -> ${this.name(at)}`;
        return true;
      });
      if (label === "") label = `(no holder; up to ${this.name(top)})`;
      bytes.set(label, (bytes.get(label) ?? 0) + this.#nodes[i + this.#f.size]);
    }
    return [...bytes].sort((a, b) => b[1] - a[1]);
  }

  /** New `match` objects counted by the closures they point to. */
  closuresOf(match: string): [string, number][] {
    const counts = new Map<string, number>();
    let e = 0;
    for (let i = 0; i < this.#nodes.length; i += this.#nf) {
      const n = this.#nodes[i + this.#f.edges];
      const key = `${this.#type(i)}:${this.#strings[this.#nodes[i + this.#f.name]]}`;
      if (this.#isNew(i) && key.includes(match)) {
        const names: string[] = [];
        for (let k = 0; k < n; k++) {
          const to = this.#edges[e + k * this.#ef + this.#e.to];
          if (this.#type(to) === "closure") {
            names.push(this.#strings[this.#nodes[to + this.#f.name]] + (this.#where.get(to) ?? ""));
          }
        }
        const label = names.join(" + ") || "(none)";
        counts.set(label, (counts.get(label) ?? 0) + 1);
      }
      e += n * this.#ef;
    }
    return [...counts].sort((a, b) => b[1] - a[1]);
  }

  /** An object's kind: `type:name`, closures with where they were defined. */
  name(i: number): string {
    const t = this.#type(i);
    const n = this.#strings[this.#nodes[i + this.#f.name]].slice(0, 50);
    return `${t}:${t === "closure" ? n + (this.#where.get(i) ?? "") : n}`;
  }

  #type(i: number): string {
    return this.#types[this.#nodes[i + this.#f.type]];
  }

  #isNew(i: number): boolean {
    return this.#nodes[i + this.#f.id] > this.#sinceId;
  }

  /** Follows first retainers up from `i`, at most `steps`, until `visit` returns true. */
  #walkUp(
    i: number,
    steps: number,
    visit: (from: number, edge: string, at: number) => boolean,
  ): void {
    const seen = new Set<number>([i]);
    let at = i;
    for (let d = 0; d < steps; d++) {
      const up = this.#retainers(at).find(([f]) => !seen.has(f));
      if (!up || visit(up[0], up[1], at)) return;
      seen.add(up[0]);
      at = up[0];
    }
  }

  /** Who points at node `i` (weak edges left out), with the edge's label. */
  #retainers(i: number): [number, string][] {
    if (!this.#by) {
      const by = new Map<number, [number, string][]>();
      let e = 0;
      for (let n = 0; n < this.#nodes.length; n += this.#nf) {
        for (let k = 0; k < this.#nodes[n + this.#f.edges]; k++, e += this.#ef) {
          const t = this.#edgeTypes[this.#edges[e + this.#e.type]];
          if (t === "weak") continue;
          const raw = this.#edges[e + this.#e.name];
          const label = t === "element" || t === "hidden" ? `[${raw}]` : this.#strings[raw];
          const to = this.#edges[e + this.#e.to];
          let list = by.get(to);
          if (!list) by.set(to, list = []);
          list.push([n, `${t}:${label}`]);
        }
      }
      this.#by = by;
    }
    return this.#by.get(i) ?? [];
  }
}
