/**
 * The account lifecycle inside the worker: create, show, change the limit, delete, lock and unlock
 * accounts, the deleted.log listing and the bot's event delivery, all over the control socket.
 * Operations that change accounts run one at a time, so two edits of the engine config never
 * interleave. Setting a limit on a locked account that brings it back within its limit (a top-up,
 * usually with --reset) unlocks it; so does renewing a locked account that expired.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiError } from "../control/api-error.js";
import { listAccounts, readXrayConfig } from "../accounts/xray-config.js";
import { accountView } from "../worker/views.js";
import type { Router } from "../control/router.js";
import type { WorkerComponent } from "../worker/component.js";
import type { WorkerContext } from "../worker/worker.js";
import type {
  AccountDetails,
  AccountView,
  CreatedAccount,
  DeletionReport,
} from "../control/api.js";
import type { LifecycleDeps } from "./deps.js";
import type { AccountWithUsage } from "../store/store.js";
import { createAccount } from "./create.js";
import { deleteAccount } from "./delete.js";
import { lockAccount, unlockAccount, type LockReport } from "./lock.js";
import { findSshSessions } from "./ssh-sessions.js";
import { setAccountExpiry } from "./expiry.js";
import { readDeletedLog } from "./deleted-log.js";
import {
  checkAckRequest,
  checkCreateRequest,
  checkDeleteRequest,
  checkExpiryRequest,
  checkLimitRequest,
  checkName,
  checkQueryLimit,
} from "./requests.js";

/** Usage below the limit (or none) and not expired: what enforcement leaves alone. */
function withinLimits(a: AccountWithUsage): boolean {
  const used = a.usage.uploadBytes + a.usage.downloadBytes;
  const expired = a.expiresAt !== null && Date.parse(a.expiresAt) <= Date.now();
  return (a.limitBytes === null || used < a.limitBytes) && !expired;
}

export class AccountLifecycle implements WorkerComponent {
  readonly name = "accounts";
  private readonly deps: LifecycleDeps;
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Tells enforcement that limits changed, so a new or lowered limit is watched at once; resolves
   * when the SSH kernel quotas follow, so an answer to a limit change means it is in force.
   */
  private readonly accountsChanged: () => Promise<void>;

  constructor(ctx: WorkerContext) {
    this.accountsChanged = ctx.accountsChanged;
    this.deps = {
      config: ctx.config,
      log: ctx.log.child({ component: "accounts" }),
      store: ctx.store,
      usageFiles: ctx.usageFiles,
      engineFlavor: () => ctx.xray.status.flavor,
    };
  }

  /** Lets deletions tell SSH accounting to forget the account (see LifecycleDeps.ssh). */
  attachSsh(ssh: NonNullable<LifecycleDeps["ssh"]>): void {
    this.deps.ssh = ssh;
  }

  async start(): Promise<void> {}

  /** Waits for the operation running now, so nothing is cut half-way. */
  async stop(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  /** Runs `operation` after the ones before it. */
  private serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation, operation);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Deletes an account (quota enforcement calls this in-process). See deleteAccount in delete.ts.
   * @throws ApiError / OperatorError when refused; nothing changed then
   */
  deleteAccount(name: string, reason: string): Promise<DeletionReport> {
    return this.serial(() => deleteAccount(this.deps, name, reason));
  }

  /**
   * Locks an account (quota enforcement with `KUOTA_ON_LIMIT=lock`). See lockAccount in lock.ts.
   * @throws ApiError / OperatorError when refused; nothing changed then
   */
  lockAccount(name: string, reason: string): Promise<LockReport> {
    return this.serial(() => lockAccount(this.deps, name, reason));
  }

  createAccount(body: unknown): Promise<CreatedAccount> {
    const request = checkCreateRequest(body);
    return this.serial(async () => {
      const created = await createAccount(this.deps, request);
      await this.accountsChanged();
      return created;
    });
  }

  /**
   * After a limit or expiry change: a locked account now within its limit and unexpired (a top-up
   * or a renewal) is unlocked, enforcement re-reads the accounts, the usage file is rewritten.
   */
  private async afterChange(name: string): Promise<AccountView> {
    const account = await this.mustExist(name);
    if (account.state === "locked" && withinLimits(account)) {
      const report = await unlockAccount(this.deps, name);
      if (!report.complete) {
        this.deps.log.warn({ user: name, steps: report.steps }, "top-up unlock incomplete");
      }
    }
    await this.accountsChanged();
    await this.deps.usageFiles.writeNow(name);
    return accountView(await this.mustExist(name));
  }

  routes(router: Router): void {
    const { store, usageFiles, config } = this.deps;
    router.post("/v1/accounts", (req) => this.createAccount(req.body));
    router.get("/v1/accounts/:name", (req) => this.details(checkName(req.params["name"])));
    router.post("/v1/accounts/:name/limit", async (req) => {
      const name = checkName(req.params["name"]);
      const { limitBytes, reset } = checkLimitRequest(req.body);
      return this.serial(async () => {
        await this.mustExist(name);
        await store.setLimit(name, limitBytes, reset, new Date().toISOString());
        this.deps.log.info({ user: name, limitBytes, reset }, "limit set");
        return this.afterChange(name);
      });
    });
    router.post("/v1/accounts/:name/expiry", async (req) => {
      const name = checkName(req.params["name"]);
      const request = checkExpiryRequest(req.body);
      return this.serial(async () => {
        await setAccountExpiry(this.deps, name, request);
        return this.afterChange(name);
      });
    });
    router.post("/v1/accounts/:name/unlock", (req) => {
      const name = checkName(req.params["name"]);
      return this.serial(async () => {
        const report = await unlockAccount(this.deps, name);
        await this.accountsChanged();
        await usageFiles.writeNow(name);
        return report;
      });
    });
    router.delete("/v1/accounts/:name", (req) => {
      const { reason } = checkDeleteRequest(req.body);
      return this.deleteAccount(req.params["name"] ?? "", reason ?? "deleted by the operator");
    });
    router.get("/v1/deleted", async (req) => ({
      entries: await readDeletedLog(
        join(config.dataDir, "deleted.log"),
        checkQueryLimit(req.query.get("limit"), 20, 1000),
      ),
    }));
    router.get("/v1/events/pending", async (req) => ({
      events: await store.pendingEvents(checkQueryLimit(req.query.get("limit"), 50, 500)),
    }));
    router.post("/v1/events/ack", async (req) => ({
      acked: await store.ackEvents(checkAckRequest(req.body), new Date().toISOString()),
    }));
  }

  private async mustExist(name: string) {
    const account = await this.deps.store.getAccount(name);
    if (!account) {
      throw new ApiError(
        404,
        "no_account",
        `kuota manages no account named ${name}`,
        "list them with `kuota account list`",
      );
    }
    return account;
  }

  /** The account with the inbounds holding it (Xray) or its live sessions (SSH). */
  private async details(name: string): Promise<AccountDetails> {
    const account = await this.mustExist(name);
    const details: AccountDetails = accountView(account);
    if (account.protocol === "ssh") {
      details.sessions = await findSshSessions(name, this.deps.config.sshPorts)
        .then((all) => all.map((s) => ({ ip: s.ip, port: s.port, daemon: s.daemon })))
        .catch((err: unknown) => {
          this.deps.log.warn({ err, user: name }, "cannot list SSH sessions");
          return [];
        });
    } else {
      const text = await readFile(this.deps.config.xrayConfig, "utf8").catch(() => null);
      const found =
        text === null
          ? undefined
          : listAccounts(readXrayConfig(text)).accounts.find((a) => a.name === name);
      details.inbounds = found?.inboundTags ?? [];
    }
    return details;
  }
}
