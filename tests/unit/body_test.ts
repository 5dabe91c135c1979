import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readBodyBytes, readJson } from "../../lib/http/body.ts";
import { ApiError } from "../../lib/http/errors.ts";

const te = new TextEncoder();

/** A POST whose body is `parts`, one read each; `stall` leaves the body open after them. */
function request(parts: string[], opts: { stall?: boolean; onCancel?: () => void } = {}) {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < parts.length) c.enqueue(te.encode(parts[i++]));
      else if (!opts.stall) c.close();
      else return new Promise<void>(() => {}); // never more
    },
    cancel() {
      opts.onCancel?.();
    },
  }, { highWaterMark: 0 });
  return new Request("http://localhost/agui", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

/** Counts the timers `fn` starts (setTimeout wrapped for the call's duration). */
async function countTimers(fn: () => Promise<unknown>): Promise<number> {
  const real = globalThis.setTimeout;
  let n = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof real>) => {
    n++;
    return real(...args);
  }) as typeof real;
  try {
    await fn();
  } finally {
    globalThis.setTimeout = real;
  }
  return n;
}

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `an ApiError, got ${err}`);
    return err;
  }
  assert.fail("expected an ApiError");
}

describe("readBodyBytes", () => {
  it("reads a body of many chunks whole, with one deadline timer for the whole body", async () => {
    const parts = Array.from({ length: 20 }, (_, i) => `${i},`);
    let bytes: Uint8Array | undefined;
    const timers = await countTimers(async () => {
      bytes = await readBodyBytes(request(parts), {
        MAX_BODY_BYTES: 1000,
        BODY_TIMEOUT_MS: 5_000,
      });
    });
    assert.equal(new TextDecoder().decode(bytes), parts.join(""));
    assert.equal(timers, 1, "one timer per body, not one per read");
  });

  it("answers 408 body_timeout (connection: close) to a body that stalls, and cancels it", async () => {
    let cancelled = false;
    const req = request(['{"graph_name":'], { stall: true, onCancel: () => (cancelled = true) });
    const err = await apiError(readBodyBytes(req, { MAX_BODY_BYTES: 1000, BODY_TIMEOUT_MS: 50 }));
    assert.equal(err.status, 408);
    assert.equal(err.code, "body_timeout");
    assert.equal(err.message, "The body did not arrive within 50 ms");
    assert.equal(err.headers?.connection, "close");
    assert.ok(cancelled, "the body was cancelled");
  });

  it("answers 408 to a body that never sends a byte", async () => {
    const err = await apiError(
      readJson(request([], { stall: true }), { MAX_BODY_BYTES: 1000, BODY_TIMEOUT_MS: 30 }),
    );
    assert.equal(err.status, 408);
    assert.equal(err.code, "body_timeout");
  });

  it("answers 413 past MAX_BODY_BYTES while reading, before the deadline", async () => {
    let cancelled = false;
    const req = request(["x".repeat(60), "x".repeat(60)], {
      stall: true,
      onCancel: () => (cancelled = true),
    });
    const err = await apiError(readBodyBytes(req, { MAX_BODY_BYTES: 100, BODY_TIMEOUT_MS: 5_000 }));
    assert.equal(err.status, 413);
    assert.equal(err.code, "payload_too_large");
    assert.ok(cancelled, "the rest of the body was cancelled");
  });

  it("answers 400 bad_request when the body stream fails", async () => {
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        c.error(new Error("reset"));
      },
    });
    const req = new Request("http://localhost/", { method: "POST", body });
    const err = await apiError(readBodyBytes(req, { MAX_BODY_BYTES: 100, BODY_TIMEOUT_MS: 5_000 }));
    assert.equal(err.status, 400);
    assert.equal(err.code, "bad_request");
  });

  describe("a body of declared length", () => {
    /** A request whose body stream must never be made: its `body` getter throws. */
    class NoStream extends Request {
      override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
        throw new Error("the body's stream was made");
      }
    }
    const declared = (body: BodyInit, length: number) =>
      new NoStream("http://localhost/agui", {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": String(length) },
        body,
      });

    it("is read whole without making its stream (an open stream would keep it)", async () => {
      const text = '{"graph_name":"hotel_o2c"}';
      const bytes = await readBodyBytes(declared(text, text.length), {
        MAX_BODY_BYTES: 1000,
        BODY_TIMEOUT_MS: 5_000,
      });
      assert.equal(new TextDecoder().decode(bytes), text);
      assert.deepEqual(await readJson(declared(text, text.length), 1000), {
        graph_name: "hotel_o2c",
      });
    });

    it("answers 413 when the declared length passes MAX_BODY_BYTES, reading nothing", async () => {
      let pulled = false;
      const body = new ReadableStream<Uint8Array>({
        pull() {
          pulled = true;
        },
      }, { highWaterMark: 0 });
      const err = await apiError(readBodyBytes(declared(body, 101), 100));
      assert.equal(err.status, 413);
      assert.equal(err.code, "payload_too_large");
      assert.equal(pulled, false);
    });

    it("answers 408 body_timeout (connection: close) when it stalls", async () => {
      const body = new ReadableStream<Uint8Array>({
        pull: () => new Promise<void>(() => {}),
      }, { highWaterMark: 0 });
      const err = await apiError(
        readBodyBytes(declared(body, 50), { MAX_BODY_BYTES: 1000, BODY_TIMEOUT_MS: 30 }),
      );
      assert.equal(err.status, 408);
      assert.equal(err.code, "body_timeout");
      assert.equal(err.headers?.connection, "close");
    });

    it("answers 400 bad_request when the read fails", async () => {
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          c.error(new Error("reset"));
        },
      });
      const err = await apiError(readBodyBytes(declared(body, 50), 1000));
      assert.equal(err.status, 400);
      assert.equal(err.code, "bad_request");
    });
  });
});
