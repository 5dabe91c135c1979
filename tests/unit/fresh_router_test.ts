import assert from "node:assert/strict";
import { App } from "fresh";
import {
  compareSpecificity,
  compilePattern,
  matchPattern,
  matchPrefix,
} from "../../lib/fresh/router.ts";
import { fixtureApp } from "../fixtures/fresh_app/testing.ts";

Deno.test("router: params are decoded, rest and optional segments match", () => {
  assert.deepEqual(matchPattern(compilePattern("/runs/:id"), "/runs/a%20b"), { id: "a b" });
  assert.equal(matchPattern(compilePattern("/runs/:id"), "/runs"), null);
  assert.equal(matchPattern(compilePattern("/runs/:id"), "/runs/1/2"), null);
  assert.deepEqual(matchPattern(compilePattern("/f/:p*"), "/f/a/b%2Fc"), { p: "a/b/c" });
  assert.deepEqual(matchPattern(compilePattern("/f/:p*"), "/f"), { p: "" });
  assert.deepEqual(matchPattern(compilePattern("/o/:x?"), "/o"), {});
  assert.deepEqual(matchPattern(compilePattern("/o/:x?"), "/o/1"), { x: "1" });
  assert.deepEqual(matchPattern(compilePattern("/about"), "/about/"), {}, "trailing slash");
  assert.equal(matchPattern(compilePattern("/runs/:id"), "/runs/%E0%A4%A"), null, "bad encoding");
  assert.deepEqual(matchPattern(compilePattern("/café"), "/caf%C3%A9"), {});
});

Deno.test("router: prefix scope matches the path and below only", () => {
  const api = compilePattern("/api");
  assert.ok(matchPrefix(api, "/api"));
  assert.ok(matchPrefix(api, "/api/items/1"));
  assert.equal(matchPrefix(api, "/apix"), null);
  assert.ok(matchPrefix(compilePattern("/"), "/anything"));
});

Deno.test("router: static beats param beats optional beats rest", () => {
  const order = ["/runs/:rest*", "/runs/:id", "/runs/new", "/runs/:id?"]
    .map(compilePattern)
    .sort(compareSpecificity)
    .map((p) => p.source);
  assert.deepEqual(order, ["/runs/new", "/runs/:id", "/runs/:id?", "/runs/:rest*"]);
  assert.throws(() => compilePattern("/a/:rest*/b"), /last segment/);
  assert.throws(() => compilePattern("/a/:x/:x"), /Repeated/);
});

Deno.test("router: precedence does not depend on registration order", async () => {
  const app = new App()
    .get("/x/:rest*", (ctx) => new Response(`rest ${ctx.params.rest} ${ctx.route}`))
    .get("/x/:id", (ctx) => new Response(`id ${ctx.params.id} ${ctx.route}`))
    .get("/x/new", (ctx) => new Response(`static ${ctx.route}`));
  const handle = app.handler();
  const text = async (p: string) => await (await handle(new Request(`http://h${p}`))).text();
  assert.equal(await text("/x/new"), "static /x/new");
  assert.equal(await text("/x/7"), "id 7 /x/:id");
  assert.equal(await text("/x/7/8"), "rest 7/8 /x/:rest*");
});

Deno.test("router: fs routes give params, rest, static precedence", async () => {
  const { handle } = fixtureApp();
  assert.equal(await (await handle("/runs/new")).text(), "new");
  assert.equal(await (await handle("/runs/42")).text(), "id=42");
  assert.equal(await (await handle("/runs/a/b")).text(), "rest=a/b");
  assert.equal(await (await handle("/runs")).text(), "rest=");
});

Deno.test("router: unknown path → 404 page, known path with wrong method → 405 + Allow", async () => {
  const { handle } = fixtureApp();
  const missing = await handle("/no/such/page");
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /<h1>Lost: \/no\/such\/page<\/h1>/);

  const wrong = await handle("/api/items", { method: "DELETE" });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get("allow"), "GET, HEAD, POST");
  await wrong.body?.cancel();

  const ok = await handle("/api/items", { method: "POST" });
  assert.equal(ok.status, 201);
  await ok.body?.cancel();
});

Deno.test("router: without a notFound handler the 404 is plain text", async () => {
  const app = new App().get("/", () => new Response("home"));
  const res = await app.handler()(new Request("http://h/elsewhere"));
  assert.equal(res.status, 404);
  assert.equal(await res.text(), "Not Found");
});

Deno.test("router: 405 lists the methods of every matching route", async () => {
  const app = new App()
    .post("/things/special", () => new Response("post"))
    .put("/things/:id", () => new Response("put"));
  const res = await app.handler()(new Request("http://h/things/special", { method: "PATCH" }));
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST, PUT");
  await res.body?.cancel();
  const put = await app.handler()(new Request("http://h/things/special", { method: "PUT" }));
  assert.equal(await put.text(), "put", "a less specific route that has the method answers");
});

Deno.test("router: HEAD falls back to GET and drops the body", async () => {
  const { handle } = fixtureApp();
  const get = await handle("/api/items");
  const head = await handle("/api/items", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-type"), get.headers.get("content-type"));
  assert.equal(head.body, null);
  await get.body?.cancel();

  const page = await handle("/", { method: "HEAD" });
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(page.body, null);
});
