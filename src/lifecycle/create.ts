/**
 * Creating accounts: an SSH account is a Linux user with a shell that cannot log in; an Xray
 * account is a client on every inbound of its protocol, written to the engine config (validated by
 * the engine, atomically, with a backup) and added to the running engine without a restart.
 * Everything is checked before anything is touched; a failure half-way undoes what was made.
 */
import { readFile } from "node:fs/promises";
import { OperatorError, EngineUnreachableError } from "../core/errors.js";
import { ApiError } from "../control/api-error.js";
import { addClient } from "../accounts/config-edit.js";
import { engineValidator, writeConfigAtomically } from "../accounts/config-write.js";
import { newClient } from "../accounts/credentials.js";
import { shareLink } from "../accounts/share-links.js";
import {
  listAccounts,
  readXrayConfig,
  type AccountProtocol,
  type XrayClient,
  type XrayInbound,
} from "../accounts/xray-config.js";
import { localDate } from "../core/time.js";
import { accountView } from "../worker/views.js";
import type { ConnectionDetails, CreatedAccount } from "../control/api.js";
import type { LifecycleDeps } from "./deps.js";
import type { CreateRequest } from "./requests.js";
import { ACCOUNT_SHELL, addLinuxUser, passwdEntry, shellListed } from "./linux-user.js";
import { engineUser, openEngine } from "./engine.js";

type Made = { connection: ConnectionDetails; links: string[]; notes: string[] };

/**
 * Creates the account described by a checked request.
 * @throws ApiError 409 `exists` when the name is taken anywhere; OperatorError when the system
 *   refuses (no inbound of the protocol, useradd failed, the engine rejects the edited config)
 */
export async function createAccount(
  deps: LifecycleDeps,
  req: CreateRequest,
): Promise<CreatedAccount> {
  const { store, config } = deps;
  await refuseTakenName(deps, req.name);
  const now = new Date();
  const expiry = req.days === null ? null : expiryOf(now, req.days);
  await store.createAccount(
    {
      name: req.name,
      protocol: req.protocol,
      origin: "created",
      limitBytes: req.limitBytes,
      expiresAt: expiry?.instant ?? null,
    },
    now.toISOString(),
  );
  let made: Made;
  try {
    made =
      req.protocol === "ssh"
        ? await createSsh(deps, req, expiry?.date ?? null)
        : await createXray(deps, req.protocol, req.name);
  } catch (err) {
    await store.removeAccount(req.name);
    throw err;
  }
  // Discovery may have marked it absent between the store row and the system change.
  await store.adoptAccounts([{ name: req.name, protocol: req.protocol }], new Date().toISOString());
  await deps.usageFiles.writeNow(req.name);
  const account = await store.getAccount(req.name);
  if (!account) throw new Error(`account ${req.name} vanished from the store while being created`);
  deps.log.info(
    {
      user: req.name,
      protocol: req.protocol,
      limitBytes: req.limitBytes,
      expiresAt: account.expiresAt,
    },
    "account created",
  );
  if (config.publicHost === null && req.protocol !== "ssh") {
    made.notes.push(
      "KUOTA_PUBLIC_HOST is not set, so no share links were made; set it and restart the worker",
    );
  }
  return { account: accountView(account), ...made };
}

/** Refuses a name used by any account, any Linux user, or any client email of the engine config. */
async function refuseTakenName(deps: LifecycleDeps, name: string): Promise<void> {
  const existing = await deps.store.getAccount(name);
  if (existing) {
    throw new ApiError(
      409,
      "exists",
      `an account named ${name} exists (${existing.protocol})`,
      "choose another name",
    );
  }
  for (const path of new Set(["/etc/passwd", deps.config.passwdFile])) {
    if (await passwdEntry(name, path)) {
      throw new ApiError(409, "exists", `a Linux user named ${name} exists`, "choose another name");
    }
  }
  const text = await readFile(deps.config.xrayConfig, "utf8").catch(() => null);
  if (text !== null) {
    const { accounts, conflicts } = listAccounts(readXrayConfig(text, deps.config.xrayConfig));
    if ([...accounts, ...conflicts].some((a) => a.name === name)) {
      throw new ApiError(
        409,
        "exists",
        `the engine config already has a client ${name}`,
        "choose another name",
      );
    }
  }
}

/** The local date from which the account no longer works, and that instant in ISO 8601. */
export function expiryOf(now: Date, days: number): { date: string; instant: string } {
  const end = new Date(now.getFullYear(), now.getMonth(), now.getDate() + days);
  return { date: localDate(end), instant: end.toISOString() };
}

async function createSsh(
  deps: LifecycleDeps,
  req: CreateRequest,
  expiryDate: string | null,
): Promise<Made> {
  const password = req.password ?? "";
  await addLinuxUser(req.name, password, expiryDate);
  const notes: string[] = [];
  if (!(await shellListed(ACCOUNT_SHELL))) {
    notes.push(
      `${ACCOUNT_SHELL} is not in /etc/shells, so Dropbear refuses this account (OpenSSH accepts it); add it with: echo ${ACCOUNT_SHELL} >> /etc/shells`,
    );
  }
  return {
    connection: {
      host: deps.config.publicHost ?? "",
      endpoints: deps.config.sshPorts.map((port) => ({
        tag: "ssh",
        port,
        network: "tcp",
        path: null,
        tls: false,
      })),
      secret: password,
    },
    links: [],
    notes,
  };
}

async function createXray(
  deps: LifecycleDeps,
  protocol: AccountProtocol,
  name: string,
): Promise<Made> {
  const path = deps.config.xrayConfig;
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new OperatorError(
      `cannot read the engine config ${path}: ${err.code ?? err.message}`,
      "set XRAY_CONFIG to the engine's config file",
    );
  });
  const inbounds = usableInbounds(readXrayConfig(text, path).inbounds, protocol, path);

  // One secret for every inbound: the customer gets one UUID or password.
  let edited = text;
  const added: { inbound: XrayInbound; client: XrayClient }[] = [];
  for (const inbound of inbounds) {
    const made = newClient(inbound, name);
    const first = added[0]?.client;
    if (first && protocol !== "shadowsocks") {
      if (first.id !== undefined) made.client.id = made.config["id"] = first.id;
      if (first.password !== undefined)
        made.client.password = made.config["password"] = first.password;
    }
    edited = addClient(edited, inbound.tag as string, made.config);
    added.push({ inbound, client: made.client });
  }
  await writeConfigAtomically(path, edited, engineValidator());

  const notes = await addLive(deps, protocol, added);
  const links: string[] = [];
  const host = deps.config.publicHost;
  for (const { inbound, client } of added) {
    if (host === null) break;
    try {
      links.push(shareLink(inbound, client, { host }));
    } catch (err) {
      if (!(err instanceof OperatorError)) throw err;
      notes.push(`no share link for ${inbound.tag}: ${err.message}`);
    }
  }
  const first = added[0]?.client;
  const connection: ConnectionDetails = {
    host: host ?? "",
    endpoints: added.map(({ inbound }) => ({
      tag: inbound.tag as string,
      port: inbound.port ?? "",
      network: inbound.network,
      path: inbound.path ?? inbound.serviceName,
      tls: inbound.security !== "none",
    })),
    secret: first?.id ?? first?.password ?? "",
  };
  if (first?.method) connection.method = first.method;
  return { connection, links, notes };
}

/** The inbounds a new account of `protocol` goes to; refuses when there is none it can go to. */
function usableInbounds(
  all: XrayInbound[],
  protocol: AccountProtocol,
  path: string,
): XrayInbound[] {
  const ofProtocol = all.filter((i) => i.protocol === protocol);
  if (ofProtocol.length === 0) {
    throw new OperatorError(
      `${path} has no ${protocol} inbound`,
      `add a ${protocol} inbound to the engine config first`,
    );
  }
  const multiUser = ofProtocol.filter((i) => i.multiUser);
  if (multiUser.length === 0) {
    throw new OperatorError(
      `the shadowsocks inbounds of ${path} hold one user each (V2Ray 4.x), so kuota cannot add accounts to them`,
      "use Xray, whose shadowsocks inbounds take a clients list, or add a shadowsocks inbound by hand",
    );
  }
  const tagged = multiUser.filter((i) => i.tag !== null);
  if (tagged.length === 0) {
    throw new OperatorError(
      `the ${protocol} inbounds of ${path} have no tag`,
      "give each account inbound a tag in the engine config",
    );
  }
  return tagged;
}

/**
 * Adds the clients to the running engine. A failure here does not undo the config: the engine
 * loads the account at its next start, and the note says so.
 */
async function addLive(
  deps: LifecycleDeps,
  protocol: AccountProtocol,
  added: { inbound: XrayInbound; client: XrayClient }[],
): Promise<string[]> {
  const notes: string[] = [];
  const later = "the account is in the config and works after the engine's next restart";
  let engine;
  try {
    engine = await openEngine(deps);
  } catch (err) {
    if (!(err instanceof EngineUnreachableError)) throw err;
    return [`the engine API at ${deps.config.xrayApi} is unreachable; ${later}`];
  }
  try {
    for (const { inbound, client } of added) {
      // The inbound's protocol was read from the config just now; a wrong account type crashes the engine.
      if (inbound.protocol !== protocol) continue;
      const user = engineUser(protocol, client, engine.flavor);
      if (user === null) {
        notes.push(
          `${inbound.tag}: cannot add this client live (cipher ${client.method ?? "?"}); ${later}`,
        );
        continue;
      }
      try {
        await engine.addUser(inbound.tag as string, user);
      } catch (err) {
        if (err instanceof EngineUnreachableError) {
          notes.push(`the engine API at ${deps.config.xrayApi} is unreachable; ${later}`);
          break;
        }
        const message = err instanceof Error ? err.message : String(err);
        if (/already exists/i.test(message)) continue;
        notes.push(`${inbound.tag}: the engine refused the new client (${message}); ${later}`);
      }
    }
  } finally {
    engine.close();
  }
  return notes;
}
