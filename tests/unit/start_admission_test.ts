/**
 * The start admission (`lib/http/start_admission.ts`) in front of a handler that records what
 * reaches it, on a real `Deno.serve` at port 0: how many starts reach the app at once and in
 * which order, what takes no place (a body still arriving, a start without a credential, other
 * requests), the body read ahead and handed to the app's own read, and shutdown.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StartGate } from "../../lib/gateway/start_gate.ts";
import { ApiError, toErrorResponse } from "../../lib/http/errors.ts";
import { readJson } from "../../lib/http/body.ts";
import { admitStarts, isStartRequest } from "../../lib/http/start_admission.ts";
import { poll } from "../fixtures/within.ts";

const LIMITS: { GATEWAY_TOKEN?: string; MAX_BODY_BYTES: number; BODY_TIMEOUT_MS: number } = {
  MAX_BODY_BYTES: 1_000,
  BODY_TIMEOUT_MS: 300,
};
const TOKEN = "t".repeat(32);

/** Waits (bounded) until `ok()` holds; fails naming it otherwise. */
async function until(ok: () => boolean): Promise<void> {
  assert.ok(await poll(ok, 1_000, 5), `not reached: ${ok}`);
}

/** A served app behind the admission: records each request it gets; answers when released. */
function serveApp(places: number, config: Partial<typeof LIMITS> = {}) {
  const gate = new StartGate(places);
  const reached: string[] = [];
  const release = new Map<string, () => void>();
  const app = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (!isStartRequest(req)) {
      reached.push(`${req.method} ${path}`);
      return new Response("other");
    }
    if (req.headers.get("authorization") === "Bearer wrong") {
      reached.push("unauthorized");
      return new Response(null, { status: 401 });
    }
    let body: { id: string };
    try {
      body = await readJson(req, { ...LIMITS, ...config }) as { id: string };
    } catch (err) {
      reached.push(`error ${(err as ApiError).status}`);
      return toErrorResponse(err);
    }
    reached.push(body.id);
    await new Promise<void>((r) => release.set(body.id, r));
    return Response.json({ id: body.id });
  };
  const handler = admitStarts(app, { gate, config: { ...LIMITS, ...config } });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const start = (id: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/agui`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ id }),
    });
  return {
    gate,
    reached,
    url,
    port: server.addr.port,
    start,
    release: (id: string) => release.get(id)!(),
    close: () => server.shutdown(),
  };
}

describe("start admission", () => {
  it("lets at most its places' starts reach the app; the others wait in arrival order, and other requests pass", async () => {
    const s = serveApp(2);
    try {
      const a = s.start("a");
      await until(() => s.reached.length === 1);
      const b = s.start("b");
      await until(() => s.reached.length === 2);
      const c = s.start("c");
      await until(() => s.gate.waiting === 1);
      const d = s.start("d");
      await until(() => s.gate.waiting === 2);
      assert.deepEqual(s.reached, ["a", "b"], "waiting starts have not reached the app");
      // Not a start: straight through while starts wait.
      assert.equal(await (await fetch(`${s.url}/agui`)).text(), "other");
      assert.equal(await (await fetch(`${s.url}/runs`, { method: "POST" })).text(), "other");
      s.release("b");
      await until(() => s.reached.length === 5);
      assert.deepEqual(s.reached, ["a", "b", "GET /agui", "POST /runs", "c"]);
      s.release("a");
      await until(() => s.reached.length === 6);
      assert.equal(s.reached[5], "d", "the next in line takes the place given back");
      s.release("c");
      s.release("d");
      for (const [res, id] of [[a, "a"], [b, "b"], [c, "c"], [d, "d"]] as const) {
        assert.deepEqual(await (await res).json(), { id }, "each body reached the app's read");
      }
      assert.equal(s.gate.waiting, 0);
      assert.equal(s.gate.free, 2, "every place came back");
    } finally {
      await s.close();
    }
  });

  it("gives no place to a body still arriving: a later start goes first, the slow one gets its 408", async () => {
    const s = serveApp(1);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    try {
      const body = JSON.stringify({ id: "slow" });
      await conn.write(
        new TextEncoder().encode(
          "POST /agui HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n" +
            `content-length: ${body.length}\r\n\r\n${body.slice(0, 4)}`,
        ),
      );
      const quick = s.start("quick");
      await until(() => s.reached.includes("quick"));
      assert.equal(s.gate.free, 0, "the quick start holds the place");
      // Its deadline passes without a place; the app's read answers it at once.
      const answer = new Uint8Array(4096);
      const n = await conn.read(answer);
      const text = new TextDecoder().decode(answer.subarray(0, n ?? 0));
      assert.match(text, /^HTTP\/1\.1 408/);
      assert.match(text, /"error":"body_timeout"/);
      assert.deepEqual(s.reached, ["quick", "error 408"]);
      s.release("quick");
      assert.deepEqual(await (await quick).json(), { id: "quick" });
      await until(() => s.gate.free === 1);
    } finally {
      conn.close();
      await s.close();
    }
  });

  it("sends what the app refuses at once, with no place: no credential, no JSON, a body too large", async () => {
    const s = serveApp(1, { GATEWAY_TOKEN: TOKEN });
    try {
      const holder = s.start("holder", { authorization: `Bearer ${TOKEN}` });
      await until(() => s.reached.includes("holder"));
      // No valid credential: the app refuses it at once although no place is free.
      const wrong = await s.start("x", { authorization: "Bearer wrong" });
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
      // Not JSON: to the app at once (its read answers 415), nothing read ahead.
      const text = await fetch(`${s.url}/agui`, {
        method: "POST",
        headers: { "content-type": "text/plain", authorization: `Bearer ${TOKEN}` },
        body: "hello",
      });
      assert.equal(text.status, 415);
      await text.body?.cancel();
      // Too large: read ahead, and refused by the app's read at once, with no place either.
      const big = await fetch(`${s.url}/agui`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ id: "b".repeat(2_000) }),
      });
      assert.equal(big.status, 413);
      assert.equal((await big.json()).error, "payload_too_large");
      assert.equal(s.gate.waiting, 0, "none of them waited");
      assert.deepEqual(s.reached, ["holder", "unauthorized", "error 415", "error 413"]);
      s.release("holder");
      await (await holder).body?.cancel();
      await until(() => s.gate.free === 1);
    } finally {
      await s.close();
    }
  });

  it("sends the starts waiting at shutdown to the app without a place", async () => {
    const s = serveApp(1);
    try {
      const first = s.start("first");
      await until(() => s.reached.length === 1);
      const late = s.start("late");
      await until(() => s.gate.waiting === 1);
      s.gate.close(new ApiError(503, "shutting_down", "closing"));
      await until(() => s.reached.length === 2);
      assert.deepEqual(s.reached, ["first", "late"]);
      s.release("late");
      s.release("first");
      await (await late).body?.cancel();
      await (await first).body?.cancel();
      // The closed gate gives out no place; the one taken came back.
      assert.equal(s.gate.free, 0);
      assert.equal(s.gate.waiting, 0);
    } finally {
      await s.close();
    }
  });
});
