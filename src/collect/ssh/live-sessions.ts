import { readFile } from "node:fs/promises";
import { execa } from "execa";
import { CommandFailedError, OperatorError } from "../../core/errors.js";
import { ACCOUNT_NAME, normalizeIp, type SshDaemon } from "./login-line.js";

/** An established SSH connection found in the kernel's socket table. */
export interface LiveSession {
  /** The account, or null when it cannot be told (a Dropbear child whose login line was not seen). */
  user: string | null;
  /** Client address and port as the daemon's socket sees them (127.0.0.1 behind a local proxy). */
  ip: string;
  port: number;
  /** OpenSSH: the `sshd: USER [priv]` monitor (the pid in its login line); Dropbear: the child. */
  pid: number;
  daemon: SshDaemon;
}

/** One established TCP socket from `ss -tnpH`. */
export interface SocketRow {
  localIp: string;
  localPort: number;
  peerIp: string;
  peerPort: number;
  /** Processes holding the socket: command name and pid. */
  owners: Array<{ command: string; pid: number }>;
}

/** What the rebuild reads from /proc; replaceable in unit tests. */
export interface ProcessInfo {
  /** Process title (`/proc/PID/cmdline`, NULs as spaces), null if the process is gone. */
  title(pid: number): Promise<string | null>;
  /** Real uid (`/proc/PID/status`), null if the process is gone. */
  uid(pid: number): Promise<number | null>;
  /** Account name of a uid (`/etc/passwd`), null if none. */
  userName(uid: number): Promise<string | null>;
}

export interface LiveSessionOptions {
  /** Ports the SSH daemons listen on. */
  sshPorts: readonly number[];
  /** Dropbear child pid → account, kept from Dropbear's login lines. */
  dropbearUsers?: ReadonlyMap<number, string>;
  /** Run `ss` in this network namespace (tests). */
  netns?: string;
  processes?: ProcessInfo;
  /** Established sockets already listed with {@link listEstablished}; saves a second `ss`. */
  rows?: SocketRow[];
}

/**
 * Lists the SSH sessions alive now: every established socket whose local port is an SSH port,
 * with its account. OpenSSH sessions are attributed by their processes (the `sshd: USER`
 * child runs with the account's uid; the `[priv]` monitor's title names it); Dropbear keeps every
 * process as root with an unchanged title, so only `dropbearUsers` can name the account.
 * Connections still authenticating have no account yet and are left out for OpenSSH.
 */
export async function findLiveSessions(options: LiveSessionOptions): Promise<LiveSession[]> {
  const rows = options.rows ?? (await listEstablished(options.sshPorts, options.netns));
  const processes = options.processes ?? procfs();
  const sessions: LiveSession[] = [];
  for (const row of rows) {
    const session = await attribute(row, processes, options.dropbearUsers ?? new Map());
    if (session) sessions.push(session);
  }
  return sessions;
}

/** Runs `ss -tnpH state established` filtered to local SSH ports and parses it. */
export async function listEstablished(
  sshPorts: readonly number[],
  netns?: string,
): Promise<SocketRow[]> {
  const filter = sshPorts.map((port) => `sport = :${port}`).join(" or ");
  const args = ["-tnpH", "state", "established", `( ${filter} )`];
  const [command, fullArgs] = netns
    ? ["ip", ["netns", "exec", netns, "ss", ...args]]
    : ["ss", args];
  try {
    const { stdout } = await execa(command, fullArgs, { timeout: 10_000 });
    const ports = new Set(sshPorts);
    return parseSsOutput(stdout).filter((row) => ports.has(row.localPort));
  } catch (err) {
    if (err instanceof Error && "code" in err && err.code === "ENOENT") {
      throw new OperatorError(
        "ss is not installed",
        "install iproute2 (`apt-get install iproute2`)",
      );
    }
    throw new CommandFailedError("ss", err instanceof Error ? err.message : String(err), {
      cause: err,
    });
  }
}

/** The kernel's TCP socket tables of this network namespace, IPv4 and IPv6. */
const PROC_TCP = ["/proc/net/tcp", "/proc/net/tcp6"];

/**
 * Whether any TCP connection to a local SSH port is established, from /proc/net/tcp{,6}: the
 * idle check of the session rebuild. Reading two procfs files costs a fraction of spawning
 * `ss` (fork, exec, netlink dump), which the rebuild still runs when someone is connected, for
 * the owning processes that /proc/net/tcp does not name.
 * @param tables the files' texts (tests); read from /proc when omitted
 */
export async function anyEstablished(
  sshPorts: readonly number[],
  tables?: readonly string[],
): Promise<boolean> {
  const texts =
    tables ?? (await Promise.all(PROC_TCP.map((path) => readFile(path, "latin1").catch(() => ""))));
  const ports = new Set(sshPorts);
  // "  sl  local_address rem_address   st ...": the local port is hex after the first colon
  // of the address; st 01 is ESTABLISHED.
  const row = /^\s*\d+: [0-9A-Fa-f]+:([0-9A-Fa-f]{4}) [0-9A-Fa-f]+:[0-9A-Fa-f]{4} 01 /gm;
  for (const text of texts) {
    for (const match of text.matchAll(row)) {
      if (ports.has(parseInt(match[1] as string, 16))) return true;
    }
  }
  return false;
}

/**
 * Parses `ss -tnpH` lines with or without the State column. Addresses may be bracketed IPv6
 * (`[::ffff:1.2.3.4]:22`), carry a scope (`fe80::1%eth0`), or be bare (older iproute2).
 */
export function parseSsOutput(text: string): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const endpoints = fields.map(parseEndpoint).filter((e) => e !== null);
    const [local, peer] = endpoints;
    if (!local || !peer) continue;
    const owners: SocketRow["owners"] = [];
    for (const match of line.matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=\d+\)/g)) {
      owners.push({ command: match[1] ?? "", pid: Number(match[2]) });
    }
    rows.push({
      localIp: local.ip,
      localPort: local.port,
      peerIp: peer.ip,
      peerPort: peer.port,
      owners,
    });
  }
  return rows;
}

function parseEndpoint(field: string): { ip: string; port: number } | null {
  const match = /^(\[[^\]]+\]|[0-9A-Fa-f:.]+)(?:%[^:\]]+)?:(\d{1,5})$/.exec(field);
  if (!match?.[1] || !match[2]) return null;
  const host = match[1].replace(/%.*$/, "");
  const ip = normalizeIp(host);
  const port = Number(match[2]);
  return ip !== null && port >= 0 && port <= 65535 ? { ip, port } : null;
}

const OPENSSH_TITLE = /^sshd(?:-session)?: ([a-z0-9][a-z0-9._-]{0,31})(?: \[priv\]|@\S+)?$/;

async function attribute(
  row: SocketRow,
  processes: ProcessInfo,
  dropbearUsers: ReadonlyMap<number, string>,
): Promise<LiveSession | null> {
  const key = { ip: row.peerIp, port: row.peerPort };
  const dropbear = row.owners.find((o) => o.command === "dropbear");
  if (dropbear) {
    const user = dropbearUsers.get(dropbear.pid) ?? null;
    return { ...key, user, pid: dropbear.pid, daemon: "dropbear" };
  }
  let monitorPid: number | undefined;
  let user: string | null = null;
  for (const owner of row.owners) {
    if (owner.command !== "sshd" && owner.command !== "sshd-session") continue;
    const title = await processes.title(owner.pid);
    const named = title === null ? null : OPENSSH_TITLE.exec(title);
    if (!title || !named?.[1]) continue;
    if (title.endsWith(" [priv]")) {
      monitorPid = owner.pid;
      user ??= named[1];
      continue;
    }
    // the unprivileged child runs as the account: its uid is the authority, the title a hint
    const uid = await processes.uid(owner.pid);
    const name = uid === null ? null : await processes.userName(uid);
    if (name !== null && ACCOUNT_NAME.test(name)) user = name;
    monitorPid ??= owner.pid;
  }
  if (user === null || monitorPid === undefined) return null;
  return { ...key, user, pid: monitorPid, daemon: "openssh" };
}

/** {@link ProcessInfo} from /proc and /etc/passwd (re-read at most once a call chain). */
export function procfs(): ProcessInfo {
  let passwd: Promise<Map<number, string>> | undefined;
  return {
    async title(pid) {
      try {
        const raw = await readFile(`/proc/${pid}/cmdline`, "utf8");
        return raw.replace(/\0+$/, "").replace(/\0/g, " ");
      } catch {
        return null;
      }
    },
    async uid(pid) {
      try {
        const status = await readFile(`/proc/${pid}/status`, "utf8");
        const match = /^Uid:\s+(\d+)/m.exec(status);
        return match?.[1] ? Number(match[1]) : null;
      } catch {
        return null;
      }
    },
    async userName(uid) {
      passwd ??= readFile("/etc/passwd", "utf8").then(parsePasswd);
      return (await passwd).get(uid) ?? null;
    },
  };
}

function parsePasswd(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split("\n")) {
    const [name, , uid] = line.split(":");
    if (name && uid && !names.has(Number(uid))) names.set(Number(uid), name);
  }
  return names;
}
