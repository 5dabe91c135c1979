// The bench's peer: what people pick today for resumable SSE, Vercel's `resumable-stream` on
// Redis, in a plain Node `http` server. `POST /agui` takes the gateway's workflow-dialect body,
// opens the fake upstream's `/execute` with `fetch` and hands the text stream to
// `resumableStream(runId, …)`, which keeps its chunks in this process and fans them out over
// Redis pub/sub. Nothing is durable: the stream is gone when this process dies. No heartbeats.
// Env: PORT, REDIS_URL, WORKFLOW_SERVICE_URL. `GET /health` answers 200 once Redis is connected.
import { createServer } from "node:http";
import { createClient } from "redis";
import { createResumableStreamContext } from "resumable-stream/redis";

const port = Number(process.env.PORT ?? 8000);
const upstream = process.env.WORKFLOW_SERVICE_URL;
const redisUrl = process.env.REDIS_URL;

const publisher = createClient({ url: redisUrl });
const subscriber = createClient({ url: redisUrl });
await Promise.all([publisher.connect(), subscriber.connect()]);
const context = createResumableStreamContext({ waitUntil: null, publisher, subscriber });

async function readBody(req) {
  const parts = [];
  for await (const part of req) parts.push(part);
  return JSON.parse(Buffer.concat(parts).toString("utf8"));
}

function upstreamStream(body) {
  return async () => {
    const res = await fetch(`${upstream}/execute`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({
        graph_name: body.graph_name,
        initial_state: body.initial_state,
        thread_id: body.run_id,
      }),
    });
    return res.body.pipeThrough(new TextDecoderStream());
  };
}

async function relay(req, res) {
  const body = await readBody(req);
  // `resumableStream` calls its factory synchronously and expects a stream back: give it one
  // that fills from the upstream fetch once that answers.
  const make = upstreamStream(body);
  const stream = await context.resumableStream(body.run_id, () => {
    const { readable, writable } = new TransformStream();
    make().then((s) => s.pipeTo(writable)).catch((err) => writable.abort(err).catch(() => {}));
    return readable;
  });
  if (!stream) {
    res.writeHead(422, { "content-type": "application/json" });
    res.end('{"error":"stream_done"}');
    return;
  }
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
  });
  const reader = stream.getReader();
  res.on("close", () => reader.cancel().catch(() => {}));
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    res.write(value);
  }
  res.end();
}

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"status":"ok"}');
    return;
  }
  if (req.method === "POST" && req.url === "/agui") {
    relay(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "peer_failed", message: String(err) }));
    });
    return;
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end('{"error":"not_found"}');
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1");

function stop() {
  server.close();
  Promise.allSettled([publisher.quit(), subscriber.quit()]).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
