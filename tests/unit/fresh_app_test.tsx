import assert from "node:assert/strict";
import { App, type Context, createDefine, HttpError, page } from "fresh";
import { fixtureApp } from "../fixtures/fresh_app/testing.ts";

Deno.test("app: middleware runs in order around the handler and shares state", async () => {
  const trail: string[] = [];
  const app = new App<{ user?: string }>()
    .use(async (ctx) => {
      trail.push("1 in");
      ctx.state.user = "ada";
      const res = await ctx.next();
      trail.push("1 out");
      res.headers.set("x-one", "yes");
      return res;
    })
    .use(async (ctx) => {
      trail.push("2 in");
      const res = await ctx.next();
      trail.push("2 out");
      return res;
    })
    .get("/", (ctx) => {
      trail.push("handler");
      return new Response(`hello ${ctx.state.user}`);
    });
  const res = await app.handler()(new Request("http://h/"));
  assert.equal(await res.text(), "hello ada");
  assert.equal(res.headers.get("x-one"), "yes");
  assert.deepEqual(trail, ["1 in", "2 in", "handler", "2 out", "1 out"]);
});

Deno.test("app: a middleware can answer without calling next()", async () => {
  let reached = false;
  const app = new App()
    .use(() => new Response("blocked", { status: 401 }))
    .get("/", () => {
      reached = true;
      return new Response("no");
    });
  const res = await app.handler()(new Request("http://h/"));
  assert.equal(res.status, 401);
  assert.equal(await res.text(), "blocked");
  assert.equal(reached, false);
});

Deno.test("app: use(path, mw) applies to that path and below only", async () => {
  const seen: string[] = [];
  const app = new App()
    .use("/api", (ctx) => {
      seen.push(ctx.url.pathname);
      return ctx.next();
    })
    .all("/:any*", () => new Response("ok"));
  const handle = app.handler();
  for (const p of ["/api", "/api/x/y", "/apix", "/"]) {
    await (await handle(new Request(`http://h${p}`))).text();
  }
  assert.deepEqual(seen, ["/api", "/api/x/y"]);
});

Deno.test("app: route middleware, route params visible to middleware", async () => {
  const app = new App().get("/u/:id", (ctx) => {
    ctx.state.seen = `${ctx.route}:${ctx.params.id}`;
    return ctx.next();
  }, (ctx) => new Response(String(ctx.state.seen)));
  assert.equal(await (await app.handler()(new Request("http://h/u/9"))).text(), "/u/:id:9");
});

Deno.test("app: folder _middleware scopes to its folder, group _middleware to its group", async () => {
  const { handle } = fixtureApp();
  const cases: [string, string][] = [
    ["/api/items", "root>api"],
    ["/runs/1", "root"],
    ["/pricing", "root>marketing"],
    ["/", "root"],
    ["/does-not-exist", "root"],
  ];
  for (const [path, trail] of cases) {
    const res = await handle(path);
    assert.equal(res.headers.get("x-trail"), trail, path);
    await res.body?.cancel();
  }
  const items = await (await handle("/api/items")).json();
  assert.deepEqual(items, { items: [1, 2], trail: ["root", "api"] });
});

Deno.test("app: HttpError sets the status and renders _error; other errors are 500 and logged", async () => {
  const { handle, errors } = fixtureApp();
  const teapot = await handle("/api/fail?status=418");
  assert.equal(teapot.status, 418);
  assert.match(await teapot.text(), /Error page: 418 nope/);
  assert.equal(errors.length, 0, "HttpErrors are expected, not logged");

  const crash = await handle("/api/fail");
  assert.equal(crash.status, 500);
  const body = await crash.text();
  assert.match(body, /Error page: unexpected/);
  assert.doesNotMatch(body, /secret internal detail/);
  assert.equal(crash.headers.get("x-trail"), "root>api", "middleware still decorates error pages");
  assert.equal(errors.length, 1);
  assert.match(String(errors[0].fields?.error), /secret internal detail/);

  const gone = await handle("/api/fail?status=404");
  assert.equal(gone.status, 404);
  assert.match(await gone.text(), /Lost: \/api\/fail/, "HttpError(404) uses the 404 page");
});

Deno.test("app: without error pages, HttpError text is sent and other errors stay private", async () => {
  const errors: unknown[] = [];
  const app = new App({ logger: { error: (_m, f) => errors.push(f) } })
    .get("/denied", () => {
      throw new HttpError(403, "denied here");
    })
    .get("/crash", () => {
      throw new Error("db password is hunter2");
    })
    .use((ctx) => {
      if (ctx.url.pathname === "/mw-crash") throw new TypeError("middleware broke");
      return ctx.next();
    });
  const handle = app.handler();
  const denied = await handle(new Request("http://h/denied"));
  assert.equal(denied.status, 403);
  assert.equal(await denied.text(), "denied here");
  const crash = await handle(new Request("http://h/crash"));
  assert.equal(crash.status, 500);
  assert.equal(await crash.text(), "Internal Server Error");
  const mw = await handle(new Request("http://h/mw-crash"));
  assert.equal(mw.status, 500);
  await mw.body?.cancel();
  assert.equal(errors.length, 2);
});

Deno.test("app: onError and notFound handlers", async () => {
  const app = new App()
    .get("/boom", () => {
      throw new HttpError(409, "conflict!");
    })
    .notFound((ctx) => ctx.text(`nothing at ${ctx.url.pathname}`, { status: 404 }))
    .onError((ctx) =>
      ctx.json({ error: (ctx.error as HttpError).message }, {
        status: (ctx.error as HttpError).status,
      })
    );
  const handle = app.handler();
  const boom = await handle(new Request("http://h/boom"));
  assert.equal(boom.status, 409);
  assert.deepEqual(await boom.json(), { error: "conflict!" });
  const missing = await handle(new Request("http://h/nope"));
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "nothing at /nope");
});

Deno.test("app: page(data) renders the route component inside _app and layouts", async () => {
  const { handle } = fixtureApp();
  const res = await handle("/data/abc");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await res.text();
  assert.ok(html.startsWith('<!DOCTYPE html><html lang="en">'), html.slice(0, 60));
  assert.match(html, /<p>data=ABC param=abc<\/p>/);
  assert.match(html, /<body data-trail="root">/, "_app gets state");

  const created = await handle("/data/created");
  assert.equal(created.status, 201);
  await created.body?.cancel();

  const layout = await (await handle("/pricing")).text();
  assert.match(layout, /<div class="marketing-layout"><p>pricing root>marketing<\/p><\/div>/);
  const plain = await (await handle("/")).text();
  assert.doesNotMatch(plain, /marketing-layout/, "a group layout stays in its group");
});

Deno.test("app: page() without a component is an error; so is a handler returning nothing", async () => {
  const errors: unknown[] = [];
  const app = new App({ logger: { error: (m) => errors.push(m) }, build: null })
    .get("/page", () => page({ x: 1 }))
    .get("/nothing", () => undefined as unknown as Response);
  const handle = app.handler();
  for (const p of ["/page", "/nothing"]) {
    const res = await handle(new Request(`http://h${p}`));
    assert.equal(res.status, 500, p);
    await res.body?.cancel();
  }
  assert.equal(errors.length, 2);
});

Deno.test("app: ctx.render wraps JSX in _app; route() takes a component", async () => {
  const app = new App({ build: null })
    .appWrapper(({ Component }) => (
      <html>
        <body class="shell">
          <Component />
        </body>
      </html>
    ))
    .get("/direct", (ctx) => ctx.render(<h1>direct</h1>, { status: 203 }))
    .route("/comp", {
      handler: { GET: () => page("from handler") },
      component: ({ data }) => <h2>{String(data)}</h2>,
    });
  const handle = app.handler();
  const direct = await handle(new Request("http://h/direct"));
  assert.equal(direct.status, 203);
  assert.equal(
    await direct.text(),
    '<!DOCTYPE html><html><body class="shell"><h1>direct</h1></body></html>',
  );
  assert.match(await (await handle(new Request("http://h/comp"))).text(), /<h2>from handler<\/h2>/);
});

Deno.test("context: redirect, json, text, html, stream", async () => {
  const ctxOf = async (fn: (ctx: Context<unknown>) => Response) => {
    const app = new App().get("/", fn);
    return await app.handler()(new Request("http://h/"));
  };
  const r = await ctxOf((ctx) => ctx.redirect("//evil.example/x"));
  assert.equal(r.status, 302);
  assert.equal(r.headers.get("location"), "/evil.example/x");
  const r2 = await ctxOf((ctx) => ctx.redirect("/runs/1", 303));
  assert.equal(r2.status, 303);
  assert.equal(r2.headers.get("location"), "/runs/1");

  const j = await ctxOf((ctx) => ctx.json({ a: 1 }, { status: 202 }));
  assert.equal(j.status, 202);
  assert.equal(j.headers.get("content-type"), "application/json; charset=utf-8");
  assert.deepEqual(await j.json(), { a: 1 });
  const t = await ctxOf((ctx) => ctx.text("hi"));
  assert.equal(t.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await t.text(), "hi");
  const h = await ctxOf((ctx) => ctx.html("<b>x</b>"));
  assert.equal(h.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await h.text(), "<b>x</b>");

  const s = await ctxOf((ctx) =>
    ctx.stream(ReadableStream.from(["a", new TextEncoder().encode("b")]), {
      headers: { "content-type": "text/event-stream" },
    })
  );
  assert.equal(s.headers.get("content-type"), "text/event-stream");
  assert.equal(await s.text(), "ab");
});

Deno.test("context: cancelling a streamed response stops the async iterable", async () => {
  const stopped = Promise.withResolvers<void>();
  async function* ticks() {
    try {
      for (let i = 0;; i++) yield `tick ${i}\n`;
    } finally {
      stopped.resolve();
    }
  }
  const app = new App().get("/", (ctx) => ctx.stream(ticks()));
  const res = await app.handler()(new Request("http://h/"));
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "tick 0\n");
  await reader.cancel();
  await stopped.promise;
});

Deno.test("createDefine: identity helpers", () => {
  const define = createDefine<{ n: number }>();
  const mw = (ctx: Context<{ n: number }>) => ctx.next();
  assert.equal(define.middleware(mw), mw);
  const handlers = { GET: () => page({ ok: true }) };
  assert.equal(define.handlers(handlers), handlers);
  const comp = define.page<typeof handlers>(({ data }) => <b>{String(data.ok)}</b>);
  assert.equal(typeof comp, "function");
});

Deno.test("app: listen() serves over real HTTP and passes connection info", async () => {
  const app = new App().get("/", (ctx) => ctx.text(`${ctx.info?.remoteAddr.transport}`));
  const listening = Promise.withResolvers<number>();
  const server = app.listen({
    port: 0,
    hostname: "127.0.0.1",
    onListen: ({ port }) => listening.resolve(port),
  });
  try {
    const res = await fetch(`http://127.0.0.1:${await listening.promise}/`);
    assert.equal(await res.text(), "tcp");
  } finally {
    await server.shutdown();
  }
});

Deno.test("app: middleware that throws at once, calls next() late or returns no Response", async () => {
  const errors: string[] = [];
  const onError = (ctx: Context<unknown>) => {
    errors.push(String((ctx.error as Error).message));
    return new Response("failed", { status: 500 });
  };
  // A plain (not async) middleware that throws before returning anything.
  const throwing = new App()
    .use(() => {
      throw new Error("sync boom");
    })
    .get("/", () => new Response("no"))
    .onError(onError);
  assert.equal((await throwing.handler()(new Request("http://h/"))).status, 500);
  // An inner layer that calls its next() only after an await, while the outer one already
  // awaits: each continues from its own position.
  const trail: string[] = [];
  const late = new App()
    .use(async (ctx) => {
      const res = await ctx.next();
      trail.push("outer out");
      return res;
    })
    .use(async (ctx) => {
      await new Promise((r) => setTimeout(r, 1));
      trail.push("inner next");
      return ctx.next();
    })
    .get("/", () => {
      trail.push("handler");
      return new Response("ok");
    });
  assert.equal(await (await late.handler()(new Request("http://h/"))).text(), "ok");
  assert.deepEqual(trail, ["inner next", "handler", "outer out"]);
  const notResponse = new App()
    // deno-lint-ignore no-explicit-any
    .use(() => "nope" as any)
    .get("/", () => new Response("no"))
    .onError(onError);
  assert.equal((await notResponse.handler()(new Request("http://h/"))).status, 500);
  assert.deepEqual(errors, ["sync boom", "Middleware 0 did not return a Response"]);
});
