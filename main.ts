/**
 * Entry point. `deno serve main.ts` and Deno Deploy use the default export; `deno run main.ts`
 * (the `start` task) serves on `PORT`. Invalid configuration stops the process with a message
 * naming the variable. SIGINT/SIGTERM end client streams with a final comment and exit 0 within
 * a few seconds (Deno Deploy evicts with SIGINT and kills 5 s later).
 * @module
 */
import { createApp, servedHandler } from "./lib/app.ts";
import { settledWithin } from "./lib/async.ts";
import { ConfigError, loadConfig } from "./lib/config.ts";
import { trackInflight } from "./lib/http/inflight.ts";
import { createLogger } from "./lib/log.ts";
import { createServices } from "./lib/services.ts";

function configOrExit() {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    Deno.exit(1);
  }
}

/** Deploy kills an instance 5 s after its SIGINT: give up on lingering work well before. */
const SHUTDOWN_DEADLINE_MS = 4_000;
/** Without a server of our own (`deno serve`, Deploy): time for closed streams to flush. */
const FLUSH_MS = 500;

const config = configOrExit();
const logger = createLogger(config.LOG_LEVEL);
const services = await createServices(config, { logger });
const app = createApp({ services, logger });
// Counts responses still being sent, which is all a shutdown can wait on under `deno serve`.
const served = servedHandler(app, services);
const inflight = trackInflight(served);
let servedByDenoServe = false;
let server: Deno.HttpServer | null = null;
let stopping = false;

const onListen = (addr: Deno.Addr) => {
  const url = "hostname" in addr ? `http://${addr.hostname}:${addr.port}/` : JSON.stringify(addr);
  logger.info("listening", { url, mode: config.mode });
};

/**
 * The app for `deno serve main.ts` and Deno Deploy: `fetch` answers every request; `onListen`
 * logs the address (and tells the `deno run` path below not to bind a second server).
 */
export default {
  fetch: inflight.handler,
  onListen(addr: Deno.Addr) {
    servedByDenoServe = true;
    onListen(addr);
  },
} satisfies Deno.ServeDefaultExport;

/**
 * Ends client streams with a final comment, releases leases and KV, and exits 0, within
 * {@link SHUTDOWN_DEADLINE_MS} whatever is still pending (a request waiting for a silent
 * upstream's first byte would otherwise hold the process for `UPSTREAM_TIMEOUT_MS`).
 */
async function shutdown(signal: Deno.Signal): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info("shutting down", { signal });
  const graceful = (async () => {
    await services.close().catch((err) => logger.error("shutdown failed", { error: err }));
    // Our own server waits for every response to be sent; without one, wait for the responses
    // the tracker sees, but briefly: a request stuck on its upstream must not hold the exit.
    if (server) await server.shutdown();
    else await inflight.idle(FLUSH_MS);
  })();
  if (!(await settledWithin(graceful, SHUTDOWN_DEADLINE_MS))) {
    logger.warn("shutdown deadline passed; exiting with requests in flight", {
      deadline_ms: SHUTDOWN_DEADLINE_MS,
      in_flight: inflight.size,
    });
  }
  Deno.exit(0);
}

// Registered whether or not this module is the main one: Deploy stops instances with SIGINT and
// may load the entry point its own way, and client streams must end cleanly either way.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void shutdown(signal));
}

if (import.meta.main) {
  // `deno serve` sets import.meta.main too; it starts its own server (calling onListen) as soon
  // as this module has been evaluated, so look once that has had its chance.
  setTimeout(() => {
    // Deno Deploy serves the default export itself (as Fresh 2 apps rely on), so never bind a
    // second server there even if it does not call onListen.
    const onDeploy = Deno.env.get("DENO_DEPLOYMENT_ID") !== undefined;
    if (servedByDenoServe || onDeploy || stopping) return;
    server = Deno.serve({ port: config.PORT, onListen }, served);
  }, 0);
}
