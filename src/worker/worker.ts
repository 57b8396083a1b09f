import { setPriority } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { SqliteHostStore } from "../store/sqlite/sqlite-host-store.js";
import { ControlServer } from "../control/server.js";
import { Router } from "../control/router.js";
import { XrayCollector } from "../collect/xray/xray-collector.js";
import { Discovery } from "../collect/discovery/discovery.js";
import { UsageFiles } from "../export/usage-files.js";
import { baseRoutes } from "./routes.js";
import { AccountLifecycle } from "../lifecycle/lifecycle-component.js";
import { CaptureComponent } from "../capture/capture-component.js";
import { sshAccounting } from "../collect/ssh/ssh-collector.js";
import type { WorkerComponent } from "./component.js";
import { Enforcer } from "../enforce/enforcer.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../core/log.js";
import type { Store, Usage } from "../store/store.js";
import type { HostStore } from "../store/host-store.js";

/** What every component may use: the store, the usage files, the logger, the config. */
export type WorkerContext = {
  config: Config;
  log: Logger;
  store: Store;
  /** Hosts clients used (host capture), in the same database as `store`. */
  hosts: HostStore;
  usageFiles: UsageFiles;
  xray: XrayCollector;
  /** Collectors call this with the accounts whose usage changed. */
  onUsage: (changed: Usage[]) => void;
  /** Listeners added by components (e.g. enforcement) to usage changes. */
  usageListeners: ((changed: Usage[]) => void)[];
  /**
   * Called by the lifecycle after an account was created or its limit or expiry changed. Resolves
   * once every listener's work is done (the SSH kernel quotas follow the new limit), or after
   * `ACCOUNT_CHANGE_WAIT_MS`; listeners' failures are theirs to log.
   */
  accountsChanged: () => Promise<void>;
  /** Listeners to `accountsChanged` (e.g. enforcement re-reads limits, SSH moves its quotas). */
  accountListeners: (() => void | Promise<void>)[];
};

/**
 * Builds the optional components. Each capability adds one line here; they
 * start in this order and stop in reverse.
 */
function components(ctx: WorkerContext): WorkerComponent[] {
  const lifecycle = new AccountLifecycle(ctx);
  const enforcer = new Enforcer(ctx, (name, reason) =>
    ctx.config.onLimit === "lock"
      ? lifecycle.lockAccount(name, reason)
      : lifecycle.deleteAccount(name, reason),
  );
  // an SSH account's kernel quota ran out: the kernel cut it, the enforcer deletes it now
  const ssh = sshAccounting(ctx, (user) => void enforcer.enforce(user, "kernel-quota"));
  lifecycle.attachSsh(ssh);
  ctx.accountListeners.push(() => ssh.syncLimits().catch(() => undefined));
  return [ssh, lifecycle, new CaptureComponent(ctx), enforcer];
}

/**
 * Nice value of the worker (and of the `ss`/`nft` it runs). Cutting an account
 * over its quota is a race with the traffic itself: on a busy server the engine
 * and the customers' transfers take the CPU, and every millisecond the worker
 * waits lets bytes through. The worker itself uses little CPU.
 */
const WORKER_NICE = -10;

/** Longest a limit change's answer waits for the SSH kernel quotas to follow it. */
const ACCOUNT_CHANGE_WAIT_MS = 3000;

function raisePriority(log: Logger): void {
  try {
    setPriority(0, WORKER_NICE);
  } catch (err) {
    log.info(
      { err: (err as Error).message },
      "cannot raise the worker's priority; cuts may be slower on a busy server",
    );
  }
}

/**
 * The privileged worker: discovers accounts, collects counters into the store,
 * keeps the sellers' usage files current and serves the control socket.
 * Resolves once it has stopped after SIGTERM/SIGINT, with everything persisted.
 */
export async function runWorker(config: Config, log: Logger): Promise<void> {
  const startedAt = new Date();
  raisePriority(log);
  const sqlite = new SqliteStore(config.dbPath);
  const store: Store = sqlite;
  const usageFiles = new UsageFiles(config.dataDir, store, log.child({ component: "usage-files" }));
  const usageListeners: ((changed: Usage[]) => void)[] = [];
  const onUsage = (changed: Usage[]) => {
    usageFiles.markDirty(changed.map((u) => u.name));
    for (const listener of usageListeners) listener(changed);
  };
  const xray = new XrayCollector({
    address: config.xrayApi,
    flavor: config.xrayFlavor,
    pollMs: config.pollMs,
    store,
    log: log.child({ component: "xray" }),
    onUsage,
  });
  const accountListeners: (() => void | Promise<void>)[] = [];
  const accountsChanged = async () => {
    const done = Promise.all(accountListeners.map(async (listener) => listener())).catch(
      () => undefined,
    );
    // A bound, not a deadline: the SSH quota sync waits for a counter read in progress (ms).
    await Promise.race([done, sleep(ACCOUNT_CHANGE_WAIT_MS, undefined, { ref: false })]);
  };
  const discovery = new Discovery({
    xrayConfig: config.xrayConfig,
    passwdFile: config.passwdFile,
    intervalMs: config.adoptMs,
    store,
    log: log.child({ component: "discovery" }),
    onAdopted: (names) => usageFiles.markDirty(names),
    onChanged: accountsChanged,
  });
  const ctx: WorkerContext = {
    config,
    log,
    store,
    hosts: new SqliteHostStore(sqlite.db),
    usageFiles,
    xray,
    onUsage,
    usageListeners,
    accountsChanged,
    accountListeners,
  };
  const parts = components(ctx);
  const router = baseRoutes(new Router(), {
    store,
    xray,
    startedAt,
    status: () =>
      Object.fromEntries(parts.filter((p) => p.status).map((p) => [p.name, p.status?.()])),
  });
  for (const part of parts) part.routes?.(router);
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
  for (const part of parts) await part.start();
  log.info({ db: config.dbPath, dataDir: config.dataDir, pollMs: config.pollMs }, "worker started");

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping");
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });

  for (const part of [...parts].reverse()) {
    try {
      await part.stop();
    } catch (err) {
      log.error({ err, component: part.name }, "component failed to stop cleanly");
    }
  }
  discovery.stop();
  await xray.stop();
  await usageFiles.stop();
  await control.close();
  await store.close();
  log.info("worker stopped; usage persisted");
}
