/**
 * Server side of islands. Components exported by island modules are registered here; a Preact
 * `options.vnode` hook swaps each island vnode's type for a wrapper that, during a page render,
 * records the instance and its props and surrounds its output with comment markers:
 * `<!--frsh:island:Name:N-->…<!--/frsh:island:N-->`. An island rendered inside another island is
 * plain code of the outer one (no markers). JSX passed to an island as a prop (`children` or any
 * other) is rendered on the server inside `<!--frsh:slot:N:prop-->` markers; the browser rebuilds
 * it from that DOM, and islands inside it become part of the outer island's tree.
 * @module
 */
import {
  type ComponentChildren,
  type ComponentType,
  createContext,
  Fragment,
  h,
  isValidElement,
  options,
  type VNode,
} from "preact";
import { useContext } from "preact/hooks";
import { Signal } from "@preact/signals";

/** An island component and where the browser finds it. */
export interface IslandInfo {
  /** The manifest key of its module, e.g. `./islands/counter.tsx`. */
  key: string;
  /** The export name (`default` or a named export). */
  exportName: string;
  /** Marker-safe display name, e.g. `counter` (`box_Label` for a named export). */
  name: string;
  /** The component. */
  component: ComponentType<Record<string, unknown>>;
}

/** A slot placeholder in serialized props: which instance and prop it belongs to. */
export class SlotRef {
  /**
   * Points at one JSX prop of one island instance.
   * @param id the island instance number (as in its markers)
   * @param prop the prop's name (`children` or another JSX-valued prop)
   */
  constructor(readonly id: number, readonly prop: string) {}
}

/** One island rendered on a page. */
export interface IslandInstance {
  /** Instance number, as in the markers. */
  id: number;
  /** What it is. */
  island: IslandInfo;
  /** Props as sent to the browser (JSX props replaced by `SlotRef`). */
  props: Record<string, unknown>;
}

const wrappers = new Map<unknown, ComponentType<Record<string, unknown>>>();
const InIsland = createContext(false);

interface Scope {
  islands: IslandInstance[];
}
let scope: Scope | null = null;
// Set while the wrapper creates the real island vnode, so the hook leaves that one alone.
let bypass = false;

function raw(
  type: ComponentType<Record<string, unknown>> | string,
  props: Record<string, unknown>,
): VNode {
  bypass = true;
  try {
    return h(type as ComponentType<Record<string, unknown>>, props);
  } finally {
    bypass = false;
  }
}

function comment(text: string): VNode {
  // preact-render-to-string prints a Fragment with UNSTABLE_comment as `<!--text-->`.
  return h(Fragment, { UNSTABLE_comment: text } as Record<string, unknown>);
}

/** True for JSX elements (signals look like elements to `isValidElement`; they are not). */
export function isJsx(value: unknown): boolean {
  return isValidElement(value) && !(value instanceof Signal);
}

function hasJsx(value: unknown): boolean {
  if (isJsx(value)) return true;
  return Array.isArray(value) && value.some(hasJsx);
}

function Slot(props: { id: number; prop: string; content: ComponentChildren }): VNode {
  const marker = `frsh:slot:${props.id}:${props.prop}`;
  return h(Fragment, null, [
    comment(marker),
    h(InIsland.Provider, { value: false }, props.content),
    comment("/" + marker),
  ]);
}

function makeWrapper(info: IslandInfo): ComponentType<Record<string, unknown>> {
  const Wrapper = (props: Record<string, unknown>) => {
    const inside = useContext(InIsland);
    if (inside || scope === null) return raw(info.component, props);
    const id = scope.islands.length;
    const sent: Record<string, unknown> = {};
    const rendered: Record<string, unknown> = {};
    for (const key of Object.keys(props)) {
      const value = props[key];
      if (hasJsx(value)) {
        sent[key] = new SlotRef(id, key);
        rendered[key] = h(Slot, { id, prop: key, content: value as ComponentChildren });
      } else {
        sent[key] = value;
        rendered[key] = value;
      }
    }
    scope.islands.push({ id, island: info, props: sent });
    return h(InIsland.Provider, { value: true }, [
      comment(`frsh:island:${info.name}:${id}`),
      raw(info.component, rendered),
      comment(`/frsh:island:${id}`),
    ]);
  };
  Object.defineProperty(Wrapper, "name", { value: `Island(${info.name})` });
  return Wrapper;
}

const previousVnodeHook = options.vnode;
options.vnode = (vnode) => {
  if (!bypass && typeof vnode.type === "function") {
    const wrapper = wrappers.get(vnode.type);
    if (wrapper) (vnode as { type: unknown }).type = wrapper;
  }
  previousVnodeHook?.(vnode);
};

/** Marker-safe name for an island export. */
export function islandName(key: string, exportName: string): string {
  const base = key.replace(/^.*\//, "").replace(/\.[jt]sx?$/, "");
  const name = exportName === "default" ? base : `${base}_${exportName}`;
  return name.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** Registers every function exported by the island modules (manifest `islands`). */
export function registerIslands(modules: Record<string, Record<string, unknown>>): IslandInfo[] {
  const out: IslandInfo[] = [];
  for (const [key, mod] of Object.entries(modules)) {
    for (const [exportName, value] of Object.entries(mod)) {
      if (typeof value !== "function") continue;
      const info: IslandInfo = {
        key,
        exportName,
        name: islandName(key, exportName),
        component: value as ComponentType<Record<string, unknown>>,
      };
      if (!wrappers.has(value)) wrappers.set(value, makeWrapper(info));
      out.push(info);
    }
  }
  return out;
}

/** Runs a synchronous render and returns the islands it used, in marker order. */
export function collectIslands<T>(render: () => T): { result: T; islands: IslandInstance[] } {
  const previous = scope;
  const current: Scope = { islands: [] };
  scope = current;
  try {
    return { result: render(), islands: current.islands };
  } finally {
    scope = previous;
  }
}
