import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { ControlServer } from "../control/server.js";
import { Router } from "../control/router.js";
import { XrayCollector } from "../collect/xray/xray-collector.js";
import { Discovery } from "../collect/discovery/discovery.js";
import { UsageFiles } from "../export/usage-files.js";
import { baseRoutes } from "./routes.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../core/log.js";

/**
 * The privileged worker: discovers accounts, collects counters into the store,
 * keeps the sellers' usage files current and serves the control socket.
 * Resolves once it has stopped after SIGTERM/SIGINT, with everything persisted.
 */
export async function runWorker(config: Config, log: Logger): Promise<void> {
  const startedAt = new Date();
  const store = new SqliteStore(config.dbPath);
  const usageFiles = new UsageFiles(
    config.dataDir,
    (n) => store.getAccount(n),
    log.child({ component: "usage-files" }),
  );
  const xray = new XrayCollector({
    address: config.xrayApi,
    flavor: config.xrayFlavor,
    pollMs: config.pollMs,
    store,
    log: log.child({ component: "xray" }),
    onUsage: (changed) => usageFiles.markDirty(changed.map((u) => u.name)),
  });
  const discovery = new Discovery({
    xrayConfig: config.xrayConfig,
    passwdFile: config.passwdFile,
    intervalMs: config.adoptMs,
    store,
    log: log.child({ component: "discovery" }),
    onAdopted: (names) => usageFiles.markDirty(names),
  });
  const router = baseRoutes(new Router(), { store, xray, startedAt });
  const control = new ControlServer(
    config.socketPath,
    config.socketGroup,
    router,
    log.child({ component: "control" }),
  );

  await control.listen();
  await discovery.start();
  // A write still waiting in the once-a-second spacing is lost if the previous
  // worker was killed; the store has the figures, so every file is rewritten now.
  usageFiles.markDirty((await store.listAccounts()).map((a) => a.name));
  usageFiles.start();
  await xray.start();
  log.info({ db: config.dbPath, dataDir: config.dataDir, pollMs: config.pollMs }, "worker started");

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping");
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });

  discovery.stop();
  await xray.stop();
  await usageFiles.stop();
  await control.close();
  await store.close();
  log.info("worker stopped; usage persisted");
}
