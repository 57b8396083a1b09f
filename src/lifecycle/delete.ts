/**
 * Deleting an account, for the operator now and for quota enforcement next. Each step is reported;
 * a failing step does not stop the others. The account leaves the store (and deleted.log gets its
 * line) only once it can no longer be used: its Linux user is gone, or no inbound of the engine
 * config holds it. Otherwise it stays, and rerunning the delete finishes what is left.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiError } from "../control/api-error.js";
import { OperatorError } from "../core/errors.js";
import { removeClient } from "../accounts/config-edit.js";
import { engineValidator, writeConfigAtomically } from "../accounts/config-write.js";
import { readXrayConfig, type AccountProtocol, type XrayInbound } from "../accounts/xray-config.js";
import { parseJsonc } from "../accounts/jsonc.js";
import type { DeletionReport } from "../control/api.js";
import type { AccountWithUsage } from "../store/store.js";
import type { PasswdEntry } from "../collect/discovery/passwd.js";
import type { LifecycleDeps } from "./deps.js";
import { checkName } from "./requests.js";
import { deleteLinuxUser, passwdEntry, removeCrontab, unmanagedReason } from "./linux-user.js";
import { removeCronDJobs } from "./cron-d.js";
import { endSshSessions, sshTable } from "./ssh-sessions.js";
import { readLogTail, sourcesOf } from "./access-log.js";
import { killSockets, peerFilter } from "./sockets.js";
import { appendDeletedLog, deletedLogLine } from "./deleted-log.js";
import { finishReport, stepRunner, type Step, type StepRunner } from "./steps.js";
import { openEngine } from "./engine.js";

/**
 * The account to delete (or lock, renew...: `action` names it in the refusal), after every refusal
 * check. Nothing has been changed when this throws.
 */
export async function deletionTarget(
  deps: LifecycleDeps,
  rawName: string,
  action = "delete",
): Promise<{ account: AccountWithUsage; user: PasswdEntry | null }> {
  const name = checkName(rawName);
  const account = await deps.store.getAccount(name);
  let user: PasswdEntry | null = null;
  for (const path of new Set(["/etc/passwd", deps.config.passwdFile])) {
    const entry = await passwdEntry(name, path);
    if (!entry) continue;
    user ??= entry;
    const problem = unmanagedReason(entry);
    if (problem && (!account || account.protocol === "ssh")) {
      throw new OperatorError(
        `refusing to ${action} ${name}: ${problem}`,
        "kuota never touches a Linux user it does not manage",
      );
    }
  }
  if (!account) {
    throw new ApiError(
      404,
      "no_account",
      `kuota manages no account named ${name}`,
      "list them with `kuota account list`",
    );
  }
  return { account, user: account.protocol === "ssh" ? user : null };
}

/**
 * Deletes an account kuota manages: the operator's `kuota account delete`, and quota enforcement
 * in-process. Runs every step and reports each; see the file comment for when it stays in the store.
 * @param reason why, in the seller's words; goes to deleted.log, the event and the log line
 * @throws ApiError 400/404 or OperatorError (409) when refused; nothing is changed then
 */
export async function deleteAccount(
  deps: LifecycleDeps,
  name: string,
  reason: string,
): Promise<DeletionReport> {
  const { account, user } = await deletionTarget(deps, name);
  const steps: Step[] = [];
  const step = stepRunner(deps, account.name, steps, "deletion step failed");

  const gone =
    account.protocol === "ssh"
      ? await deleteSsh(deps, account.name, user, step)
      : await deleteXray(deps, account.name, account.protocol, step);

  if (gone) {
    await step("store", async () => {
      await deps.store.removeAccount(account.name);
      return "account and usage removed";
    });
    await step("usage file", async () => {
      deps.usageFiles.remove(account.name);
      return `${account.name}.json removed`;
    });
    const at = new Date();
    const done = steps
      .filter((s) => s.ok && s.step !== "engine config read")
      .map((s) => `${s.step}: ${s.detail ?? "ok"}`);
    const failed = steps.filter((s) => !s.ok).map((s) => `${s.step} FAILED`);
    const details = [`reason: ${reason}`, ...done, ...failed].join("; ");
    await step("deleted.log", async () => {
      const path = join(deps.config.dataDir, "deleted.log");
      await appendDeletedLog(path, deletedLogLine(at, account.protocol, account.name, details));
      return path;
    });
    await step("event", async () => {
      const id = await deps.store.recordEvent({
        kind: "deleted",
        account: account.name,
        protocol: account.protocol,
        reason,
        usedBytes: account.usage.uploadBytes + account.usage.downloadBytes,
        limitBytes: account.limitBytes,
        at: at.toISOString(),
      });
      return `event ${id} waits for the bot`;
    });
  } else {
    steps.push({
      step: "store",
      ok: false,
      detail: `kept, because the account can still be used; rerun \`kuota account delete ${account.name}\` to finish`,
    });
  }
  return finishReport(
    deps,
    account,
    steps,
    { done: "account deleted", incomplete: "account deletion incomplete" },
    { reason },
  );
}

/** Ends every SSH session of the account (OpenSSH and Dropbear, tunnels included). */
export function endSessionsStep(
  deps: LifecycleDeps,
  name: string,
  uid: number | null,
  step: StepRunner,
): Promise<boolean> {
  return step("end sessions", async () => {
    const ended = await endSshSessions(name, uid, deps.config.sshPorts);
    const daemons = ended.sessions.map((s) => `${s.daemon} ${s.ip}:${s.port}`);
    return ended.sessions.length === 0 && !ended.processesKilled
      ? "no session was open"
      : `ended ${ended.sessions.length} session(s)${daemons.length ? ` (${daemons.join(", ")})` : ""}` +
          `${ended.processesKilled ? ", killed its processes" : ""}, ${ended.sockets} socket(s) cut`;
  });
}

/** SSH: sessions, cron, nft entries, then the user. Resolves true once the Linux user is gone. */
async function deleteSsh(
  deps: LifecycleDeps,
  name: string,
  user: PasswdEntry | null,
  step: StepRunner,
): Promise<boolean> {
  const sshPorts = deps.config.sshPorts;
  await endSessionsStep(deps, name, user?.uid ?? null, step);
  // crontab -u needs the user to exist: before userdel
  await step("crontab", () => removeCrontab(name));
  await step("cron.d", async () => {
    const removed = await removeCronDJobs(name);
    if (removed.length === 0) return "no lines";
    return removed.map((r) => `${r.lines} line(s) from ${r.file}`).join(", ");
  });
  await step("nft session entries", async () => {
    try {
      await deps.ssh?.forget(name);
      await sshTable(sshPorts).deleteAccount(name);
      return "removed";
    } catch (err) {
      if (err instanceof OperatorError && /not installed/.test(err.message))
        return "nft is not installed";
      throw err;
    }
  });
  return step("linux user", async () => {
    const detail = await deleteLinuxUser(name);
    // Sessions that slipped in between the first step and userdel end now.
    await endSshSessions(name, null, sshPorts).catch(() => undefined);
    return detail;
  });
}

/** Xray: live removal, config, live connections. Resolves true once no config inbound holds it. */
async function deleteXray(
  deps: LifecycleDeps,
  name: string,
  protocol: AccountProtocol,
  step: StepRunner,
): Promise<boolean> {
  const { read, text } = await removeXrayLive(deps, name, protocol, step);
  const configDone =
    read &&
    (await step("engine config", async () => {
      const edit = removeClient(text as string, name);
      if (edit.removedFrom.length === 0) return "not in the config";
      await writeConfigAtomically(deps.config.xrayConfig, edit.text, engineValidator());
      return `removed from ${edit.removedFrom.join(", ")}`;
    }));

  return configDone;
}

/**
 * Reads the engine config, removes the account from the running engine on every tagged inbound of
 * its protocol and cuts its live connections: it stops working now; the config is left as it is.
 * @returns whether the config was read, and its text (null when it was not)
 */
export async function removeXrayLive(
  deps: LifecycleDeps,
  name: string,
  protocol: AccountProtocol,
  step: StepRunner,
): Promise<{ read: boolean; text: string | null }> {
  const path = deps.config.xrayConfig;
  let text: string | null = null;
  let inbounds: XrayInbound[] = [];
  const read = await step("engine config read", async () => {
    text = await readFile(path, "utf8");
    inbounds = readXrayConfig(text, path).inbounds;
    return path;
  });
  // Every tagged inbound of the protocol: a rerun after a failed live removal finds it in none.
  const tags = inbounds
    .filter((i) => i.protocol === protocol && i.tag !== null)
    .map((i) => i.tag as string);

  await step("engine (live)", async () => {
    if (tags.length === 0) return "no inbound to remove it from";
    const engine = await openEngine(deps);
    try {
      const removed: string[] = [];
      for (const tag of tags) if (await engine.removeUser(tag, name)) removed.push(tag);
      return removed.length > 0
        ? `removed from ${removed.join(", ")}`
        : "the engine did not hold it";
    } finally {
      engine.close();
    }
  });

  // Right after RemoveUser, before the slower config write: the download must stop now.
  await step("live connections", async () => {
    const logPath = accessLogPath(text, deps.config);
    let log: string;
    try {
      log = await readLogTail(logPath);
    } catch (err) {
      throw new OperatorError(
        `cannot read the engine's access log ${logPath} (${(err as NodeJS.ErrnoException).code ?? err}); live connections keep flowing until they close`,
        'set "log": {"access": FILE} in the engine config, or XRAY_ACCESS_LOG',
      );
    }
    // The engine's side of a connection listens on its inbound's port: the line's inbound when
    // it names one (Xray), else any inbound of the protocol (V2Ray 4.x names only the outbound).
    const numeric = (i: XrayInbound) => (typeof i.port === "number" ? [i.port] : []);
    const ofProtocol = inbounds.filter((i) => i.protocol === protocol).flatMap(numeric);
    let cut = 0;
    const sources = sourcesOf(log, name);
    for (const source of sources) {
      const tagged = inbounds.find((i) => i.tag !== null && i.tag === source.inboundTag);
      cut += await killSockets(
        peerFilter(source.ip, source.port, tagged ? numeric(tagged) : ofProtocol),
      );
    }
    return `${cut} connection(s) cut (${sources.length} source(s) in ${logPath})`;
  });
  return { read, text };
}

/** The access log the engine writes: its config's `log.access`, else XRAY_ACCESS_LOG. */
function accessLogPath(configText: string | null, config: LifecycleDeps["config"]): string {
  if (configText !== null) {
    try {
      const root = parseJsonc(configText).value;
      const log =
        typeof root === "object" && root !== null && !Array.isArray(root) ? root["log"] : undefined;
      const access =
        typeof log === "object" && log !== null && !Array.isArray(log) ? log["access"] : undefined;
      if (typeof access === "string" && access !== "" && access.toLowerCase() !== "none")
        return access;
    } catch {
      // unreadable config: fall back
    }
  }
  return config.xrayAccessLog;
}
