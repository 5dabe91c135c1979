import assert from "node:assert/strict";
import { App, staticFiles } from "fresh";
import { FIXTURE_ROOT, fixtureApp } from "../fixtures/fresh_app/testing.ts";

Deno.test("static: serves files with type, ETag and revalidation", async () => {
  const { handle } = fixtureApp();
  const res = await handle("/hello.txt");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "public, no-cache");
  assert.equal(res.headers.get("content-length"), "13");
  assert.match(res.headers.get("etag") ?? "", /^"[0-9a-f]{24}"$/);
  assert.equal(await res.text(), "hello static\n");
  const css = await handle("/style.css");
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  await css.body?.cancel();
  const nested = await handle("/sub/deep.txt");
  assert.equal(await nested.text(), "deep\n");
});

Deno.test("static: If-None-Match answers 304 without a body", async () => {
  const { handle } = fixtureApp();
  const first = await handle("/hello.txt");
  const etag = first.headers.get("etag")!;
  await first.body?.cancel();
  for (const header of [etag, `W/${etag}`, `"other", ${etag}`]) {
    const res = await handle("/hello.txt", { headers: { "if-none-match": header } });
    assert.equal(res.status, 304, header);
    assert.equal(res.body, null);
    assert.equal(res.headers.get("etag"), etag);
  }
  const changed = await handle("/hello.txt", { headers: { "if-none-match": '"other"' } });
  assert.equal(changed.status, 200);
  await changed.body?.cancel();
});

Deno.test("static: build output under /_fresh/<id>/ is immutable", async () => {
  const { handle } = fixtureApp();
  const res = await handle("/_fresh/abc123/chunk-x.js");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
  await res.body?.cancel();
});

Deno.test("static: build.json (source paths, hashes) is not public; bundles are", async () => {
  const { handle } = fixtureApp();
  // The fixture's static/_fresh/ holds a build.json next to the build folder abc123/.
  assert.ok((await Deno.stat(`${FIXTURE_ROOT}/static/_fresh/build.json`)).isFile);
  for (const method of ["GET", "HEAD"]) {
    for (const path of ["/_fresh/build.json", "/_fresh/%62uild.json", "/_fresh/abc123"]) {
      const res = await handle(path, { method });
      const body = await res.text();
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.ok(!body.includes("PRIVATE"), `${method} ${path} leaked build.json`);
    }
  }
  const bundle = await handle("/_fresh/abc123/chunk-x.js");
  assert.equal(bundle.status, 200);
  await bundle.body?.cancel();
});

Deno.test("static: HEAD has headers only; other methods fall through to routes", async () => {
  const { handle } = fixtureApp();
  const head = await handle("/hello.txt", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "13");
  assert.equal(head.body, null);
  const post = await handle("/hello.txt", { method: "POST" });
  assert.equal(post.status, 404, "no route, and static files are not POSTable");
  await post.body?.cancel();
});

Deno.test("static: paths that leave the folder are never served", async () => {
  const { handle } = fixtureApp();
  const attempts = [
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/sub/..%2f..%2fsecret.txt",
    "/sub%2f..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/hello.txt%00",
    "/hello.txt%00.png",
    "/%00",
    "/.%2e/secret.txt",
    "/sub/%E0%A4%A",
  ];
  for (const path of attempts) {
    const res = await handle(path);
    const body = await res.text();
    assert.notEqual(res.status, 200, path);
    assert.ok(!body.includes("TOP-SECRET-CONTENT"), `${path} leaked`);
  }
});

Deno.test("static: a symlink out of the folder is refused; content changes change the ETag", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fresh-static-" });
  try {
    await Deno.mkdir(`${dir}/public`);
    await Deno.writeTextFile(`${dir}/outside.txt`, "TOP-SECRET-CONTENT");
    await Deno.symlink(`${dir}/outside.txt`, `${dir}/public/link.txt`);
    await Deno.writeTextFile(`${dir}/public/a.txt`, "one");
    const handle = new App().use(staticFiles({ root: `${dir}/public` })).handler();
    const link = await handle(new Request("http://h/link.txt"));
    assert.equal(link.status, 404);
    await link.body?.cancel();

    const first = await handle(new Request("http://h/a.txt"));
    assert.equal(await first.text(), "one");
    await Deno.writeTextFile(`${dir}/public/a.txt`, "two, longer");
    const second = await handle(new Request("http://h/a.txt"));
    assert.equal(await second.text(), "two, longer");
    assert.notEqual(second.headers.get("etag"), first.headers.get("etag"));
    const unknown = await Deno.writeTextFile(`${dir}/public/blob.bin9`, "x").then(() =>
      handle(new Request("http://h/blob.bin9"))
    );
    assert.equal(unknown.headers.get("content-type"), "application/octet-stream");
    await unknown.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
