/**
 * Locking an account instead of deleting it (`KUOTA_ON_LIMIT=lock`), so the seller can sell a
 * top-up, and unlocking it. A locked account keeps its store row, usage and (SSH) its Linux user,
 * home and crontab; it cannot be used until it is unlocked.
 *
 * Xray and V2Ray have no per-client "enabled" flag, so a locked Xray account's client objects
 * leave the engine config (an engine restart must not bring it back) and are kept in the store
 * row, secret included; an unlock puts them back on the same inbounds with the same UUID or
 * password, so the customer's share link works again. Commenting them out in the config was the
 * other way: it keeps everything in one file, but autoscripts and hand edits that rewrite the
 * file drop or garble comments, and the engine validator cannot check a commented client.
 */
import { readFile } from "node:fs/promises";
import { addClient, removeClient } from "../accounts/config-edit.js";
import { engineValidator, writeConfigAtomically } from "../accounts/config-write.js";
import { asObject, readXrayConfig, type AccountProtocol } from "../accounts/xray-config.js";
import { parseJsonc, type JsonObject } from "../accounts/jsonc.js";
import { EngineUnreachableError, OperatorError } from "../core/errors.js";
import { ApiError } from "../control/api-error.js";
import type { DeletionReport } from "../control/api.js";
import type { AccountWithUsage, LockedClient } from "../store/store.js";
import type { LifecycleDeps } from "./deps.js";
import { deletionTarget, endSessionsStep, removeXrayLive } from "./delete.js";
import { finishReport, stepRunner, type StepRunner } from "./steps.js";
import { engineUser, openEngine } from "./engine.js";
import { firstLine, runWithPasswdLock } from "./run.js";

/** What a lock or unlock did, step by step, in the shape of a deletion's report. */
export type LockReport = DeletionReport;

/**
 * Locks an account: SSH, the password is locked (`usermod -L`) and every session ends; Xray, it
 * leaves the running engine and the config (clients kept in the store) and its connections are
 * cut. Then the store marks it locked, a 'locked' event waits for the bot and one log line says so.
 * Every step runs and is reported; the account is marked locked only once it can no longer be
 * used, so a failed lock is retried by enforcement.
 * @param reason why, in the seller's words; goes to the event and the log line
 * @throws ApiError 400/404 or OperatorError (409) when refused; nothing is changed then
 */
export async function lockAccount(
  deps: LifecycleDeps,
  name: string,
  reason: string,
): Promise<LockReport> {
  const { account, user } = await deletionTarget(deps, name, "lock");
  const steps: LockReport["steps"] = [];
  const step = stepRunner(deps, account.name, steps, "lock step failed");

  const unusable =
    account.protocol === "ssh"
      ? await lockSsh(deps, account.name, user?.uid ?? null, step)
      : await lockXray(deps, account.name, account.protocol, step);

  if (unusable) {
    const at = new Date();
    await step("store", async () => {
      await deps.store.setAccountState(account.name, "locked", at.toISOString());
      return "marked locked; usage kept";
    });
    await step("event", async () => {
      const id = await deps.store.recordEvent(lockedEvent(account, reason, at));
      return `event ${id} waits for the bot`;
    });
  } else {
    steps.push({ step: "store", ok: false, detail: "not marked locked: it can still be used" });
  }
  return finishReport(
    deps,
    account,
    steps,
    { done: "account locked", incomplete: "account lock incomplete" },
    { reason },
  );
}

function lockedEvent(account: AccountWithUsage, reason: string, at: Date) {
  return {
    kind: "locked" as const,
    account: account.name,
    protocol: account.protocol,
    reason,
    usedBytes: account.usage.uploadBytes + account.usage.downloadBytes,
    limitBytes: account.limitBytes,
    at: at.toISOString(),
  };
}

/** SSH: password locked, then every session ended. Resolves true once the password is locked. */
export async function lockSsh(
  deps: LifecycleDeps,
  name: string,
  uid: number | null,
  step: StepRunner,
): Promise<boolean> {
  const locked = await step("lock password", () => usermod(name, "-L"));
  // After the password lock, so no new session can start once these end.
  await endSessionsStep(deps, name, uid, step);
  return locked;
}

/** Xray: live removal and connections cut, clients kept, then out of the config. */
async function lockXray(
  deps: LifecycleDeps,
  name: string,
  protocol: AccountProtocol,
  step: StepRunner,
): Promise<boolean> {
  const { read, text } = await removeXrayLive(deps, name, protocol, step);
  if (!read || text === null) return false;
  const clients = clientsOf(text, name);
  // Kept before the config loses them, so no failure can lose the secret. A rerun after the
  // config was written finds none and keeps the ones saved before.
  if (clients.length > 0) {
    const saved = await step("keep clients", async () => {
      await deps.store.saveLockedClients(name, clients);
      return `${clients.length} client(s) kept in the store for the unlock`;
    });
    if (!saved) return false;
  }
  return step("engine config", async () => {
    const edit = removeClient(text, name);
    if (edit.removedFrom.length === 0) return "not in the config";
    await writeConfigAtomically(deps.config.xrayConfig, edit.text, engineValidator());
    return `removed from ${edit.removedFrom.join(", ")}`;
  });
}

/** The client objects with this email on tagged inbounds, as the config holds them. */
function clientsOf(text: string, name: string): LockedClient[] {
  const root = asObject(parseJsonc(text).value);
  const found: LockedClient[] = [];
  for (const raw of Array.isArray(root?.["inbounds"]) ? root["inbounds"] : []) {
    const inbound = asObject(raw);
    const tag = inbound?.["tag"];
    const clients = asObject(inbound?.["settings"] ?? null)?.["clients"];
    if (typeof tag !== "string" || !Array.isArray(clients)) continue;
    for (const c of clients) {
      const client = asObject(c);
      const email = client?.["email"];
      if (client && typeof email === "string" && email.toLowerCase() === name) {
        found.push({ inbound: tag, client });
      }
    }
  }
  return found;
}

/**
 * Unlocks an account: SSH `usermod -U`; Xray, its kept clients go back into the config and into
 * the running engine. The store marks it active. An account still over its limit or expired is
 * locked again by enforcement at once: raise the limit (`kuota account limit NAME SIZE --reset`)
 * first, which unlocks it by itself.
 * @throws ApiError 404 when kuota manages no such account, 409 `not_locked` when it is not locked
 */
export async function unlockAccount(deps: LifecycleDeps, name: string): Promise<LockReport> {
  const { account } = await deletionTarget(deps, name, "unlock");
  if (account.state !== "locked") {
    throw new ApiError(409, "not_locked", `${account.name} is not locked`, "nothing to do");
  }
  const steps: LockReport["steps"] = [];
  const step = stepRunner(deps, account.name, steps, "unlock step failed");
  const usable =
    account.protocol === "ssh"
      ? await step("unlock password", () => usermod(account.name, "-U"))
      : await unlockXray(deps, account.name, account.protocol, step);
  if (usable) {
    await step("store", async () => {
      await deps.store.setAccountState(account.name, "active", new Date().toISOString());
      return "marked active";
    });
  }
  return finishReport(deps, account, steps, {
    done: "account unlocked",
    incomplete: "account unlock incomplete",
  });
}

/** Xray: kept clients back into the config, then into the running engine. */
async function unlockXray(
  deps: LifecycleDeps,
  name: string,
  protocol: AccountProtocol,
  step: StepRunner,
): Promise<boolean> {
  const path = deps.config.xrayConfig;
  const kept = await deps.store.lockedClients(name);
  let text = "";
  const configDone = await step("engine config", async () => {
    text = await readFile(path, "utf8");
    const already = new Set(clientsOf(text, name).map((c) => c.inbound));
    if (kept.length === 0 && already.size === 0) {
      throw new OperatorError(
        `no client of ${name} was kept when it was locked`,
        `delete it (\`kuota account delete ${name}\`) and create it again`,
      );
    }
    const back = kept.filter((c) => !already.has(c.inbound));
    if (back.length === 0) return "already in the config";
    let edited = text;
    for (const c of back) edited = addClient(edited, c.inbound, c.client as JsonObject);
    await writeConfigAtomically(path, edited, engineValidator());
    text = edited;
    return `added back to ${back.map((c) => c.inbound).join(", ")}`;
  });
  if (!configDone) return false;
  await step("engine (live)", async () => {
    const inbounds = readXrayConfig(text, path).inbounds.filter(
      (i) => i.protocol === protocol && i.tag !== null,
    );
    let engine;
    try {
      engine = await openEngine(deps);
    } catch (err) {
      if (err instanceof EngineUnreachableError) {
        throw new OperatorError(
          err.message,
          "it is in the config: the engine's next start loads it",
        );
      }
      throw err;
    }
    try {
      const added: string[] = [];
      for (const inbound of inbounds) {
        const client = inbound.clients.find((c) => c.email === name);
        const user = client ? engineUser(protocol, client, engine.flavor) : null;
        if (!user) continue;
        try {
          await engine.addUser(inbound.tag as string, user);
          added.push(inbound.tag as string);
        } catch (err) {
          if (!/already exists/i.test(err instanceof Error ? err.message : String(err))) throw err;
        }
      }
      return added.length > 0 ? `added to ${added.join(", ")}` : "the engine already held it";
    } finally {
      engine.close();
    }
  });
  return true;
}

/** `usermod -L|-U NAME`; resolves what it did. */
async function usermod(name: string, flag: "-L" | "-U"): Promise<string> {
  const result = await runWithPasswdLock("usermod", [flag, name]);
  if (result.exitCode !== 0) {
    throw new OperatorError(`usermod ${flag} ${name} failed: ${firstLine(result)}`);
  }
  return flag === "-L" ? "password locked (usermod -L)" : "password unlocked (usermod -U)";
}
