/**
 * Entry point. `deno serve main.ts` and Deno Deploy use the default export; `deno run main.ts`
 * (the `start` task) serves on `PORT`. Invalid configuration stops the process with a message
 * naming the variable.
 * @module
 */
import { createApp } from "./lib/app.ts";
import { ConfigError, loadConfig } from "./lib/config.ts";
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

const config = configOrExit();
const logger = createLogger(config.LOG_LEVEL);
const services = await createServices(config, { logger });
const app = createApp({ services, logger });
let servedByDenoServe = false;

const onListen = (addr: Deno.Addr) => {
  const url = "hostname" in addr ? `http://${addr.hostname}:${addr.port}/` : JSON.stringify(addr);
  logger.info("listening", { url, mode: config.mode });
};

/**
 * The app for `deno serve main.ts` and Deno Deploy: `fetch` answers every request; `onListen`
 * logs the address (and tells the `deno run` path below not to bind a second server).
 */
export default {
  fetch: app.handler(),
  onListen(addr: Deno.Addr) {
    servedByDenoServe = true;
    onListen(addr);
  },
} satisfies Deno.ServeDefaultExport;

async function shutdown(server: Deno.HttpServer | null): Promise<never> {
  await services.close().catch((err) => logger.error("shutdown failed", { error: err }));
  await server?.shutdown();
  Deno.exit(0);
}

if (import.meta.main) {
  // `deno serve` sets import.meta.main too; it starts its own server (calling onListen) as soon
  // as this module has been evaluated, so look once that has had its chance.
  setTimeout(() => {
    // Deno Deploy serves the default export itself (as Fresh 2 apps rely on), so never bind a
    // second server there even if it does not call onListen.
    const onDeploy = Deno.env.get("DENO_DEPLOYMENT_ID") !== undefined;
    const server = servedByDenoServe || onDeploy
      ? null
      : app.listen({ port: config.PORT, onListen });
    // Deploy stops instances with SIGINT: end client streams cleanly before exiting.
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => shutdown(server));
    }
  }, 0);
}
