/**
 * Page rendering: Preact → HTML string, islands collected on the way, and (only when the page
 * used islands) one module script that imports the islands' bundles and hydrates them.
 * @module
 */
import type { VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import { buildBaseUrl, type BuildInfo } from "./build_info.ts";
import { collectIslands, isJsx, type IslandInstance, SlotRef } from "./islands.ts";
import { escapeForScript, serialize, SerializeError } from "./serialize.ts";

/** Options of `renderPageHtml`. */
export interface RenderHtmlOptions {
  /** The bundle to point at; needed only when the page uses islands. */
  build: BuildInfo | null;
  /** CSP nonce for the boot script. */
  nonce?: string;
}

function escapeAttr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/** A JS string literal that is safe inside an inline script. */
function jsString(text: string): string {
  return escapeForScript(JSON.stringify(text));
}

function serializeProps(islands: IslandInstance[]): string {
  try {
    return serialize(islands.map((i) => i.props), (value, path) => {
      if (value instanceof SlotRef) return ["Slot", value.id, value.prop];
      if (isJsx(value)) {
        throw new SerializeError(`JSX is only supported as a direct island prop, found at ${path}`);
      }
      return undefined;
    }, "islands");
  } catch (err) {
    if (!(err instanceof SerializeError)) throw err;
    const n = Number(/^\D*\[(\d+)\]/.exec(err.message.replace(/^.* at /, ""))?.[1]);
    const name = islands[n]?.island.name ?? "?";
    throw new SerializeError(`Island ${name}: ${err.message}`);
  }
}

/** The inline boot script for the islands of one page. */
export function islandScript(
  islands: IslandInstance[],
  build: BuildInfo | null,
  nonce?: string,
): string {
  if (build === null) {
    throw new Error(
      `This page uses islands (${
        islands[0].island.name
      }) but no island build was found: run \`deno task build\``,
    );
  }
  const base = buildBaseUrl(build);
  const modules: string[] = [];
  const moduleIndex = new Map<string, number>();
  const instances: [number, string][] = [];
  for (const { island } of islands) {
    let index = moduleIndex.get(island.key);
    if (index === undefined) {
      const file = build.islands[island.key];
      if (!file) {
        throw new Error(
          `Island ${island.key} is missing from build ${build.buildId}: run \`deno task build\``,
        );
      }
      index = modules.push(base + file) - 1;
      moduleIndex.set(island.key, index);
    }
    instances.push([index, island.exportName]);
  }
  const payload = serializeProps(islands);
  const imports = modules.map((url, i) => `import*as i${i} from${jsString(url)};`).join("");
  const code = `import{boot}from${jsString(base + build.runtime)};${imports}` +
    `boot([${modules.map((_, i) => `i${i}`).join(",")}],${
      escapeForScript(JSON.stringify(instances))
    },` +
    `${jsString(payload)},${jsString(build.buildId)});`;
  const nonceAttr = nonce ? ` nonce="${escapeAttr(nonce)}"` : "";
  return `<script type="module"${nonceAttr}>${code}</script>`;
}

/**
 * Renders a whole document. The result starts with `<!DOCTYPE html>`; a page without islands
 * gets no script at all.
 */
export function renderPageHtml(root: VNode, opts: RenderHtmlOptions): string {
  const { result: body, islands } = collectIslands(() => renderToString(root));
  let html = body;
  if (islands.length > 0) {
    const script = islandScript(islands, opts.build, opts.nonce);
    const at = html.lastIndexOf("</body>");
    html = at === -1 ? html + script : html.slice(0, at) + script + html.slice(at);
  }
  return "<!DOCTYPE html>" + html;
}
