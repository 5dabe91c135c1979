import assert from "node:assert/strict";
import { App } from "fresh";
import { Signal } from "@preact/signals";
import { deserialize } from "../../lib/fresh/deserialize.ts";
import { registerIslands } from "../../lib/fresh/islands.ts";
import { HOSTILE } from "../fixtures/fresh_app/routes/islands.tsx";
import { FAKE_BUILD, fixtureApp } from "../fixtures/fresh_app/testing.ts";

/** The boot script's pieces: module URLs, instances and the decoded props. */
function parseBoot(html: string) {
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.equal(scripts.length, 1, "exactly one script");
  const [, attrs, code] = scripts[0];
  const m = /^import\{boot\}from("[^"]+");(.*)boot\(\[([^\]]*)\],(\[.*?\]\]),(".*"),("[^"]+")\);$/
    .exec(code);
  assert.ok(m, `unexpected boot code: ${code.slice(0, 200)}`);
  const imports = [...m[2].matchAll(/import\*as (i\d+) from("[^"]+");/g)].map((x) =>
    JSON.parse(x[2])
  );
  return {
    attrs,
    code,
    runtime: JSON.parse(m[1]) as string,
    imports: imports as string[],
    instances: JSON.parse(m[4]) as [number, string][],
    props: deserialize(JSON.parse(m[5]), {
      Slot: (entry) => ({ slot: `${entry[1]}:${entry[2]}` }),
    }) as Record<string, unknown>[],
    buildId: JSON.parse(m[6]) as string,
  };
}

Deno.test("render: islands are wrapped in markers and get one boot script", async () => {
  const { handle } = fixtureApp();
  const res = await handle("/islands");
  const html = await res.text();
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.match(
    html,
    /<!--frsh:island:counter:0--><div class="counter"><output>5<\/output><button type="button">\+1<\/button><\/div><!--\/frsh:island:0-->/,
  );
  assert.match(html, /<!--frsh:island:echo:2--><pre class="echo"/);
  // JSX children render on the server inside slot markers; the island inside them is marked.
  assert.match(
    html,
    /<!--frsh:slot:3:children--><p class="static">server <em>only<\/em><\/p><!--frsh:island:box_Label:4-->.*<!--\/frsh:island:4--><!--\/frsh:slot:3:children-->/,
  );
  assert.ok(html.indexOf("<script") > html.lastIndexOf("<!--/frsh:island"), "script after islands");
  assert.ok(html.endsWith("</script></body></html>"));

  const boot = parseBoot(html);
  assert.equal(boot.attrs, ' type="module"');
  assert.equal(boot.runtime, "/_fresh/testbuild/boot-TEST.js");
  assert.deepEqual(boot.imports, [
    "/_fresh/testbuild/counter-TEST.js",
    "/_fresh/testbuild/echo-TEST.js",
    "/_fresh/testbuild/box-TEST.js",
  ], "each island module once, only those used");
  assert.deepEqual(boot.instances, [[0, "default"], [0, "default"], [1, "default"], [
    2,
    "Box",
  ], [2, "Label"]]);
  assert.equal(boot.buildId, "testbuild");
});

Deno.test("render: a page loads only the islands it uses", async () => {
  const { handle } = fixtureApp();
  const html = await (await handle("/single_island")).text();
  assert.match(html, /<!--frsh:island:counter:0-->/);
  const boot = parseBoot(html);
  assert.equal(boot.runtime, "/_fresh/testbuild/boot-TEST.js");
  // The build has three island bundles; this page renders one island, so it imports one.
  assert.deepEqual(boot.imports, ["/_fresh/testbuild/counter-TEST.js"]);
  assert.deepEqual(boot.instances, [[0, "default"]]);
});

Deno.test("render: props survive the trip, hostile strings cannot break out", async () => {
  const { handle } = fixtureApp();
  const html = await (await handle("/islands")).text();
  // The only </script> and the only script element are ours; no raw "<!--" inside the code.
  assert.equal(html.split("</script>").length, 2);
  const boot = parseBoot(html);
  assert.ok(!boot.code.includes("<"), "no < inside the inline script");

  const [c0, c1, echo, box, label] = boot.props;
  assert.ok(c0.count instanceof Signal && c0.count.value === 5);
  assert.equal(c0.count, c1.count, "a signal shared by two islands stays one signal");
  const value = echo.value as Record<string, unknown>;
  assert.equal(value.text, HOSTILE);
  assert.ok(value.when instanceof Date);
  assert.equal((value.when as Date).toISOString(), "2024-02-29T12:00:00.000Z");
  assert.ok("missing" in value && value.missing === undefined);
  assert.deepEqual(value.nested, { list: [1, "two", null, { three: 3 }] });
  assert.equal(box.title, "outer");
  assert.deepEqual(box.children, { slot: "3:children" }, "JSX children travel as a slot");
  assert.deepEqual(label, { text: "inside a slot" });
});

Deno.test("render: a page without islands ships no script", async () => {
  const { handle } = fixtureApp();
  const html = await (await handle("/")).text();
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.ok(!html.includes("<script"), html);
  assert.ok(!html.includes("frsh:"), "no markers either");
});

Deno.test("render: the CSP nonce from ctx.state goes on the boot script", async () => {
  const { handle } = fixtureApp();
  const html = await (await handle('/islands?nonce=n0nce"x')).text();
  assert.equal(parseBoot(html).attrs, ' type="module" nonce="n0nce&quot;x"');
});

Deno.test("render: islands without a build fail with a clear message", async () => {
  const { handle, errors } = fixtureApp({ build: null });
  const res = await handle("/islands");
  assert.equal(res.status, 500);
  await res.body?.cancel();
  assert.match(
    String(errors[0]?.fields?.error),
    /no island build was found: run `deno task build`/,
  );
  const plain = await handle("/");
  assert.equal(plain.status, 200, "pages without islands need no build");
  await plain.body?.cancel();
});

Deno.test("render: unserializable island props name the island", async () => {
  function Clicker(_props: { onPick: () => void }) {
    return <button type="button">pick</button>;
  }
  registerIslands({ "./islands/clicker.tsx": { default: Clicker } });
  const errors: unknown[] = [];
  const app = new App({
    build: { ...FAKE_BUILD, islands: { "./islands/clicker.tsx": "clicker-TEST.js" } },
    logger: { error: (_m, f) => errors.push(f?.error) },
  }).get("/", (ctx) => ctx.render(<Clicker onPick={() => {}} />));
  const res = await app.handler()(new Request("http://h/"));
  assert.equal(res.status, 500);
  await res.body?.cancel();
  assert.match(
    String(errors[0]),
    /Island clicker: Cannot serialize a function .* at islands\[0\]\.onPick/,
  );
});

Deno.test("render: an island inside an island is part of the outer one", async () => {
  function Inner({ n }: { n: number }) {
    return <i>{n}</i>;
  }
  function Outer() {
    return (
      <b>
        <Inner n={1} />
      </b>
    );
  }
  registerIslands({ "./islands/nest.tsx": { Inner, Outer } });
  const app = new App({
    build: { ...FAKE_BUILD, islands: { "./islands/nest.tsx": "nest-TEST.js" } },
  }).get("/", (ctx) => ctx.render(<Outer />));
  const html = await (await app.handler()(new Request("http://h/"))).text();
  assert.match(html, /<!--frsh:island:nest_Outer:0--><b><i>1<\/i><\/b><!--\/frsh:island:0-->/);
  assert.deepEqual(parseBoot(html).instances, [[0, "Outer"]]);
});
