/**
 * Browser runtime: finds the island markers the server wrote, revives each island's props and
 * hydrates it in place with Preact's public `hydrate`. Each island owns the nodes between its
 * two comment markers; a small stand-in parent maps Preact's DOM calls onto that range.
 * @module
 */
import { type ComponentChildren, type ComponentType, Fragment, h, hydrate } from "preact";
import { setBuildId } from "../asset.ts";
import { deserializeWith, mayHoldSignals, type SignalFactory } from "../deserialize_core.ts";

type Island = ComponentType<Record<string, unknown>>;

interface Range {
  start: Comment;
  end: Comment | null;
}

/**
 * A stand-in parent for the nodes between `start` and `end`, enough for `render`/`hydrate`:
 * Preact reads `childNodes`/`firstChild` and inserts or removes through the parent.
 */
function rangeRoot(start: Comment, end: Comment): Element {
  const parent = start.parentNode as Element;
  const nodes = () => {
    const out: ChildNode[] = [];
    for (let n = start.nextSibling; n && n !== end; n = n.nextSibling) out.push(n);
    return out;
  };
  const root = {
    nodeType: 1,
    namespaceURI: parent.namespaceURI,
    parentNode: parent,
    get firstChild() {
      const first = start.nextSibling;
      return first === end ? null : first;
    },
    get childNodes() {
      return nodes();
    },
    insertBefore(node: Node, ref: Node | null) {
      return parent.insertBefore(node, ref ?? end);
    },
    appendChild(node: Node) {
      return parent.insertBefore(node, end);
    },
    removeChild(node: Node) {
      return parent.removeChild(node);
    },
    contains(node: Node | null) {
      return nodes().some((n) => n === node || n.contains(node));
    },
  };
  return root as unknown as Element;
}

/** Collects the marker comments: island ranges by instance, slot ranges by `id:prop`. */
function scanMarkers(): {
  islands: Map<number, Range>;
  slots: Map<string, Range>;
  topLevel: number[];
} {
  const islands = new Map<number, Range>();
  const slots = new Map<string, Range>();
  const topLevel: number[] = [];
  let slotDepth = 0;
  const walker = document.createTreeWalker(document, NodeFilter.SHOW_COMMENT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = (node as Comment).data;
    let m: RegExpExecArray | null;
    if ((m = /^frsh:island:[^:]*:(\d+)$/.exec(text))) {
      const id = Number(m[1]);
      islands.set(id, { start: node as Comment, end: null });
      if (slotDepth === 0) topLevel.push(id);
    } else if ((m = /^\/frsh:island:(\d+)$/.exec(text))) {
      const range = islands.get(Number(m[1]));
      if (range) range.end = node as Comment;
    } else if ((m = /^frsh:slot:(\d+:.*)$/.exec(text))) {
      slots.set(m[1], { start: node as Comment, end: null });
      slotDepth++;
    } else if ((m = /^\/frsh:slot:(\d+:.*)$/.exec(text))) {
      const range = slots.get(m[1]);
      if (range) range.end = node as Comment;
      slotDepth--;
    }
  }
  return { islands, slots, topLevel };
}

/**
 * Hydrates the page's islands. Called by the page's inline script with the imported island
 * modules, per instance `[module index, export name]`, the serialized props and the build id.
 */
export function boot(
  modules: Record<string, unknown>[],
  instances: [number, string][],
  payload: string,
  buildId: string,
): void | Promise<void> {
  // @preact/signals is a lazy chunk: fetched only when some island's props hold a signal.
  if (mayHoldSignals(payload)) {
    return import("@preact/signals").then(({ signal }) =>
      start(modules, instances, payload, buildId, () => signal<unknown>(undefined))
    );
  }
  start(modules, instances, payload, buildId);
}

function start(
  modules: Record<string, unknown>[],
  instances: [number, string][],
  payload: string,
  buildId: string,
  makeSignal?: SignalFactory,
): void {
  setBuildId(buildId);
  const { islands, slots, topLevel } = scanMarkers();
  const componentOf = (id: number): Island => {
    const [mod, name] = instances[id];
    return modules[mod][name] as Island;
  };

  // Server-rendered JSX props become static vnodes rebuilt from their DOM; islands inside
  // them become children of the outer island rather than separate roots.
  const fromNodes = (first: Node | null, stop: Node | null): ComponentChildren[] => {
    const out: ComponentChildren[] = [];
    for (let n = first; n && n !== stop; n = n.nextSibling) {
      if (n.nodeType === 3) out.push((n as Text).data);
      else if (n.nodeType === 1) {
        const el = n as Element;
        const attrs: Record<string, unknown> = {};
        for (const attr of Array.from(el.attributes)) attrs[attr.name] = attr.value;
        out.push(h(el.localName, attrs, ...fromNodes(el.firstChild, null)));
      } else if (n.nodeType === 8) {
        const m = /^frsh:island:[^:]*:(\d+)$/.exec((n as Comment).data);
        if (!m) continue;
        const id = Number(m[1]);
        const range = islands.get(id);
        if (!range?.end) continue;
        out.push(h(componentOf(id), props[id]));
        n = range.end;
      }
    }
    return out;
  };

  const props = deserializeWith(payload, {
    Slot: (entry) => {
      const range = slots.get(`${entry[1]}:${entry[2]}`);
      if (!range?.end) return null;
      const { start, end } = range;
      // Built once, on first render: by then every instance's props exist (nested islands
      // need them) and the markers are still in place (hydration drops unmatched comments).
      let content: ComponentChildren[] | undefined;
      const ServerSlot = () =>
        h(Fragment, null, ...(content ??= fromNodes(start.nextSibling, end)));
      return h(ServerSlot, null);
    },
  }, makeSignal) as Record<string, unknown>[];

  for (const id of topLevel) {
    const range = islands.get(id);
    if (!range?.end || !instances[id]) {
      console.error(`Island ${id}: markers or module missing`);
      continue;
    }
    try {
      hydrate(h(componentOf(id), props[id]), rangeRoot(range.start, range.end));
    } catch (err) {
      // One broken island must not keep the others from hydrating.
      console.error(`Island ${id} failed to hydrate`, err);
    }
  }
  // Lets tests (and scripts) wait for interactivity without guessing.
  (globalThis as { __freshHydrated?: boolean }).__freshHydrated = true;
  document.dispatchEvent(new Event("fresh:hydrated"));
}
