import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bodySource,
  ChunkedDecoder,
  http1Fetch,
  Http1ProtocolError,
} from "../../lib/gateway/upstream_http1.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function decodeAll(decoder: ChunkedDecoder, parts: Uint8Array[]): string {
  let out = "";
  for (const p of parts) out += dec.decode(decoder.decode(p), { stream: true });
  return out + dec.decode();
}

const CHUNKED =
  "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\nwörld!!\r\n\r\n0\r\nx-trailer: 1\r\n\r\nIGNORED";
const CHUNKED_PAYLOAD = "hello wörld!!\r\n";

describe("ChunkedDecoder", () => {
  it("decodes chunks, extensions and trailers, split at every byte offset", () => {
    const bytes = enc.encode(CHUNKED);
    const whole = new ChunkedDecoder();
    assert.equal(decodeAll(whole, [bytes]), CHUNKED_PAYLOAD);
    assert.equal(whole.done, true);
    for (let cut = 1; cut < bytes.length; cut++) {
      for (const cut2 of [cut + 1, cut + 7]) {
        const d = new ChunkedDecoder();
        const text = decodeAll(d, [
          bytes.subarray(0, cut),
          bytes.subarray(cut, cut2),
          bytes.subarray(cut2),
        ]);
        assert.equal(text, CHUNKED_PAYLOAD, `cuts ${cut}/${cut2}`);
        assert.equal(d.done, true);
      }
    }
  });

  it("coalesces the payload of many chunks in one input into one array", () => {
    const d = new ChunkedDecoder();
    const out = d.decode(enc.encode("3\r\nabc\r\n3\r\ndef\r\n3\r\nghi\r\n"));
    assert.equal(dec.decode(out), "abcdefghi");
    assert.equal(d.done, false);
  });

  it("reads hex sizes of any case and length up to 12 digits", () => {
    const body = "x".repeat(0x1b);
    for (const size of ["1b", "1B", "00000000001b"]) {
      const out = new ChunkedDecoder().decode(enc.encode(`${size}\r\n${body}\r\n`));
      assert.equal(dec.decode(out), body, size);
    }
  });

  it("refuses malformed framing", () => {
    assert.throws(() => new ChunkedDecoder().decode(enc.encode("zz\r\n")), Http1ProtocolError);
    assert.throws(
      () => new ChunkedDecoder().decode(enc.encode("0000000000001\r\nx\r\n")),
      Http1ProtocolError,
    );
    assert.throws(() => new ChunkedDecoder().decode(enc.encode("1 x\r\n")), Http1ProtocolError);
    assert.throws(
      () => new ChunkedDecoder().decode(enc.encode("2\r\nabX\r\n")),
      Http1ProtocolError,
    );
  });
});

/** A raw TCP server answering each connection with `answer(requestText, conn)`. */
function rawServer(answer: (request: string, conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: string[] = [];
  const handlers: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      handlers.push((async () => {
        const buf = new Uint8Array(65536);
        let text = "";
        try {
          while (!/\r\n\r\n/.test(text) || !requestComplete(text)) {
            const n = await conn.read(buf);
            if (n === null) break;
            text += dec.decode(buf.subarray(0, n));
          }
          requests.push(text);
          await answer(text, conn);
        } catch {
          // the client went away
        } finally {
          try {
            conn.close();
          } catch {
            // closed by the answer
          }
        }
      })());
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    requests,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(handlers);
    },
  };
}

function requestComplete(text: string): boolean {
  const [head, body = ""] = text.split("\r\n\r\n", 2);
  const m = /content-length: (\d+)/i.exec(head);
  return !m || enc.encode(body).length >= Number(m[1]);
}

async function write(conn: Deno.Conn, text: string) {
  const b = enc.encode(text);
  for (let at = 0; at < b.length;) at += await conn.write(b.subarray(at));
}

describe("http1Fetch", () => {
  it("the first body chunk does not pin the header read buffer", async () => {
    // Headers and the first bytes of the body arrive in one read: the body's first chunk must
    // be a copy, not a view of the 16 KiB buffer the headers were read into (a relay holding
    // that chunk while its stream idles would keep the whole buffer per stream).
    const server = rawServer(async (_req, conn) => {
      await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\n: ok\n\ndata: 1");
    });
    try {
      const res = await http1Fetch(`${server.url}/`);
      const reader = res.body!.getReader();
      const first = await reader.read();
      assert.equal(dec.decode(first.value), ": ok\n\ndata: 1");
      assert.ok(
        first.value!.buffer.byteLength < 1024,
        `first chunk backed by ${first.value!.buffer.byteLength} bytes`,
      );
      await reader.cancel();
    } finally {
      await server.close();
    }
  });

  it("sends method, path, host, headers and body; reads a chunked body", async () => {
    const server = rawServer(async (_req, conn) => {
      await write(
        conn,
        "HTTP/1.1 100 Continue\r\n\r\n" +
          "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n" +
          "8\r\ndata: 1\n\r\n",
      );
      await write(conn, "1\r\n\n\r\n0\r\n\r\n");
    });
    try {
      const res = await http1Fetch(`${server.url}/svc/execute?x=1`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer t" },
        body: '{"a":"é"}',
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      assert.equal(await res.text(), "data: 1\n\n");
      const req = server.requests[0];
      assert.match(req, /^POST \/svc\/execute\?x=1 HTTP\/1\.1\r\n/);
      assert.match(req, new RegExp(`\r\nhost: ${new URL(server.url).host}\r\n`));
      assert.match(req, /\r\nauthorization: Bearer t\r\n/);
      assert.match(req, /\r\ncontent-length: 10\r\n/);
      assert.match(req, /\r\nconnection: close\r\n/);
      assert.ok(req.endsWith('\r\n\r\n{"a":"é"}'));
    } finally {
      await server.close();
    }
  });

  it("sends headers given as pairs or a record as they are, and refuses invalid ones", async () => {
    const server = rawServer(async (_req, conn) => {
      await write(conn, "HTTP/1.1 204 No Content\r\n\r\n");
    });
    try {
      const res = await http1Fetch(`${server.url}/`, {
        headers: [["Accept", " text/event-stream\t"], ["x-b", "1"], ["host", "evil"]],
      });
      assert.equal(res.status, 204);
      const req = server.requests[0];
      assert.match(req, /\r\naccept: text\/event-stream\r\nx-b: 1\r\n/);
      assert.doesNotMatch(req, /evil/, "host is the client's own");
      for (
        const headers of [
          [["x-a", "1\r\nx-injected: 1"]],
          [["bad name", "1"]],
          { "x-a": "nul\0" },
          { "x-a": "\u20ac" },
        ] as HeadersInit[]
      ) {
        await assert.rejects(http1Fetch(`${server.url}/`, { headers }), TypeError);
      }
      assert.equal(server.requests.length, 1, "an invalid header is refused before connecting");
    } finally {
      await server.close();
    }
  });

  it("reads content-length and close-delimited bodies", async () => {
    const server = rawServer(async (req, conn) => {
      if (req.startsWith("GET /len")) {
        await write(conn, "HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nabcdeEXTRA");
      } else {
        await write(conn, "HTTP/1.0 200 OK\r\n\r\nuntil ");
        await write(conn, "close");
      }
    });
    try {
      const a = await http1Fetch(`${server.url}/len`);
      assert.equal(a.status, 404);
      assert.equal(a.statusText, "Not Found");
      assert.equal(await a.text(), "abcde");
      const b = await http1Fetch(`${server.url}/close`);
      assert.equal(await b.text(), "until close");
    } finally {
      await server.close();
    }
  });

  it("fails on a malformed answer or a body cut short", async () => {
    const server = rawServer(async (req, conn) => {
      if (req.startsWith("GET /garbage")) await write(conn, "SSH-2.0-OpenSSH\r\n\r\n");
      else {
        await write(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab");
      }
    });
    try {
      await assert.rejects(http1Fetch(`${server.url}/garbage`), Http1ProtocolError);
      const res = await http1Fetch(`${server.url}/cut`);
      await assert.rejects(res.text(), Http1ProtocolError);
    } finally {
      await server.close();
    }
  });

  it("refuses oversized headers", async () => {
    const server = rawServer(async (_req, conn) => {
      await write(conn, "HTTP/1.1 200 OK\r\nx-big: " + "a".repeat(70_000) + "\r\n\r\n");
    });
    try {
      await assert.rejects(http1Fetch(`${server.url}/`), /too large/);
    } finally {
      await server.close();
    }
  });

  it("aborting the signal closes the connection, before and after the headers", async () => {
    const { promise: gotRequest, resolve } = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const server = rawServer(async (req, conn) => {
      if (req.startsWith("GET /headers")) {
        await write(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
      }
      resolve();
      // Wait until the client closes: a read returns null (or fails) when it does.
      await conn.read(new Uint8Array(16)).catch(() => null);
      release.resolve();
    });
    try {
      const ac = new AbortController();
      const pending = http1Fetch(`${server.url}/silent`, { signal: ac.signal });
      await gotRequest;
      ac.abort(new Error("stop"));
      await assert.rejects(pending, /stop/);
      await release.promise;

      const ac2 = new AbortController();
      const res = await http1Fetch(`${server.url}/headers`, { signal: ac2.signal });
      const reader = res.body!.getReader();
      assert.equal(dec.decode((await reader.read()).value), "abc");
      const next = reader.read();
      ac2.abort();
      await assert.rejects(next);
    } finally {
      await server.close();
    }
  });

  it("aborting while connecting rejects with the reason, and the late connection is closed", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    try {
      const ac = new AbortController();
      const pending = http1Fetch(`http://127.0.0.1:${port}/`, { signal: ac.signal });
      ac.abort(new Error("stop while connecting"));
      await assert.rejects(pending, /stop while connecting/);
      // The connection the connect made after all is closed without a request on it.
      const conn = await l.accept();
      const got = await conn.read(new Uint8Array(64)).catch(() => null);
      assert.equal(got, null, "no request bytes, the connection closed");
      conn.close();
    } finally {
      l.close();
    }
  });

  it("a closed port is a TypeError, like fetch", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    await assert.rejects(http1Fetch(`http://127.0.0.1:${port}/`), TypeError);
  });
  it("each socket read's payload is its own exact-size array, intact after later reads", async () => {
    // The client reads every socket read into one reused buffer: a payload must be copied out
    // (not a view of that buffer, which the next read overwrites and an idle body would pin).
    const steps = ["aaaa", "bbbbbb", "cc"];
    for (const framing of ["chunked", "close", "length"] as const) {
      const next = steps.map(() => Promise.withResolvers<void>());
      const server = rawServer(async (_req, conn) => {
        const head = framing === "chunked"
          ? "transfer-encoding: chunked\r\n"
          : framing === "length"
          ? `content-length: ${steps.join("").length}\r\n`
          : "";
        await write(conn, `HTTP/1.1 200 OK\r\n${head}\r\n`);
        for (let i = 0; i < steps.length; i++) {
          await next[i].promise;
          const s = steps[i];
          await write(conn, framing === "chunked" ? `${s.length.toString(16)}\r\n${s}\r\n` : s);
        }
        if (framing === "chunked") await write(conn, "0\r\n\r\n");
      });
      try {
        const res = await http1Fetch(`${server.url}/`);
        const reader = res.body!.getReader();
        const got: Uint8Array[] = [];
        for (let i = 0; i < steps.length; i++) {
          next[i].resolve();
          const r = await reader.read();
          assert.equal(r.done, false);
          got.push(r.value!);
        }
        assert.equal((await reader.read()).done, true);
        assert.deepEqual(got.map((g) => dec.decode(g)), steps, framing);
        for (const g of got) assert.equal(g.buffer.byteLength, g.byteLength, framing);
      } finally {
        await server.close();
      }
    }
  });

  it("readView returns each read's payload as a view of the connection's buffer", async () => {
    // The relay's pump decodes each payload before it reads again, so it borrows the view
    // instead of a copy; read() still copies (the test above).
    const steps = ["aaaa", "bbbbbb", "cc"];
    const next = steps.map(() => Promise.withResolvers<void>());
    const server = rawServer(async (_req, conn) => {
      await write(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
      for (let i = 0; i < steps.length; i++) {
        await next[i].promise;
        await write(conn, `${steps[i].length.toString(16)}\r\n${steps[i]}\r\n`);
      }
      await write(conn, "0\r\n\r\n");
    });
    try {
      const source = bodySource((await http1Fetch(`${server.url}/`)).body)!;
      const views: Uint8Array[] = [];
      for (let i = 0; i < steps.length; i++) {
        next[i].resolve();
        const r = await source.readView();
        assert.equal(r.done, false);
        assert.equal(dec.decode(r.value), steps[i], "intact until the next read");
        views.push(r.value!);
      }
      assert.equal((await source.readView()).done, true);
      assert.equal(views[0].buffer, views[1].buffer, "one buffer, reused");
    } finally {
      await server.close();
    }
  });

  it("bodySource reads the body without its stream, and a cancel ends a pending read", async () => {
    const release = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<void>();
    const server = rawServer(async (_req, conn) => {
      await write(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
      await release.promise;
      await write(conn, "2\r\nde\r\n");
      await conn.read(new Uint8Array(16)).catch(() => null);
      closed.resolve();
    });
    try {
      const res = await http1Fetch(`${server.url}/`);
      const source = bodySource(res.body)!;
      assert.ok(source);
      assert.equal(bodySource(res.body), undefined, "taken once");
      assert.equal(res.body!.locked, false);
      assert.equal(dec.decode((await source.read()).value), "abc");
      release.resolve();
      assert.equal(dec.decode((await source.read()).value), "de");
      const pending = source.read();
      await source.cancel();
      assert.deepEqual(await pending, { done: true, value: undefined });
      await closed.promise; // the socket was closed
      assert.equal((await source.read()).done, true);
      // Any other body has no source.
      assert.equal(bodySource(new Response("x").body), undefined);
    } finally {
      await server.close();
    }
  });
});
