/**
 * Ending every SSH session of an account at once. OpenSSH sessions are found by their processes
 * (the `sshd: USER` child runs as the account); Dropbear keeps its per-connection process as root
 * with an unchanged title, so its sessions are found through the client address SSH accounting
 * keeps for each session (its nft map) and the process owning that socket.
 */
import { findLiveSessions, listEstablished } from "../collect/ssh/live-sessions.js";
import { Nft } from "../collect/ssh/nft.js";
import { SshCountingTable } from "../collect/ssh/ssh-table.js";
import type { SessionKey } from "../collect/ssh/nft-ruleset.js";
import { OperatorError } from "../core/errors.js";
import { killUserProcesses } from "./linux-user.js";
import {
  connectionFilter,
  killSockets,
  listenerPids,
  peerFilter,
  socketsOfUid,
} from "./sockets.js";

/** One SSH session of the account, alive when found. */
export type SshSession = SessionKey & {
  daemon: "openssh" | "dropbear" | "unknown";
  pid: number | null;
};

/** The SSH part of kuota's nft table, or null when nft is not installed. */
export function sshTable(sshPorts: readonly number[]): SshCountingTable {
  return new SshCountingTable(new Nft(), sshPorts);
}

/**
 * The account's live sessions: OpenSSH ones from the socket table and processes, plus every
 * session SSH accounting has mapped to it in nft (both daemons), with the process holding it.
 */
export async function findSshSessions(
  user: string,
  sshPorts: readonly number[],
): Promise<SshSession[]> {
  const sessions = new Map<string, SshSession>();
  for (const s of await findLiveSessions({ sshPorts })) {
    if (s.user === user) sessions.set(`${s.ip} ${s.port}`, { ...s });
  }
  const mapped = await sshTable(sshPorts)
    .mappedSessions()
    .catch((err: unknown) => {
      if (err instanceof OperatorError) return []; // nft missing: SSH accounting is off too
      throw err;
    });
  const mine = mapped.filter((m) => m.user === user && !sessions.has(`${m.ip} ${m.port}`));
  if (mine.length > 0) {
    const rows = await listEstablished(sshPorts);
    for (const key of mine) {
      const row = rows.find((r) => r.peerIp === key.ip && r.peerPort === key.port);
      if (!row) continue; // the session ended; its map entry is stale
      const owner =
        row.owners.find((o) => o.command === "dropbear") ??
        row.owners.find((o) => o.command.startsWith("sshd"));
      sessions.set(`${key.ip} ${key.port}`, {
        ip: key.ip,
        port: key.port,
        daemon: owner?.command === "dropbear" ? "dropbear" : owner ? "openssh" : "unknown",
        pid: owner?.pid ?? null,
      });
    }
  }
  return [...sessions.values()];
}

/** What ending the sessions did. */
export type EndedSessions = { sessions: SshSession[]; processesKilled: boolean; sockets: number };

/**
 * Ends every session of `user` at once: `ss -K` on each session's client connection and on every
 * socket owned by the account's uid first (a reset: a socket closed by killing its process would
 * first drain its send queue to the customer, seconds at tunnel speed), then SIGKILL to the
 * account's processes and to each session's daemon process (never a daemon's listener).
 */
export async function endSshSessions(
  user: string,
  uid: number | null,
  sshPorts: readonly number[],
): Promise<EndedSessions> {
  const sessions = await findSshSessions(user, sshPorts);
  let sockets = 0;
  for (const session of sessions) {
    sockets += await killSockets(peerFilter(session.ip, session.port, sshPorts));
  }
  if (uid !== null) {
    for (const row of await socketsOfUid(uid)) sockets += await killSockets(connectionFilter(row));
  }
  const processesKilled = uid === null ? false : await killUserProcesses(user);
  const listeners = await listenerPids(sshPorts);
  for (const session of sessions) {
    if (session.pid === null || listeners.has(session.pid) || session.pid === process.pid) continue;
    try {
      process.kill(session.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return { sessions, processesKilled, sockets };
}
