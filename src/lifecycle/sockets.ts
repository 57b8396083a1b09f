/**
 * Cutting TCP connections with `ss -K` (needs CONFIG_INET_DIAG_DESTROY, on in Debian and Ubuntu
 * kernels): the kernel closes the socket at once and the peer gets a reset, whichever process
 * holds it.
 */
import { isIP } from "node:net";
import { CommandFailedError } from "../core/errors.js";
import { parseSsOutput, type SocketRow } from "../collect/ssh/live-sessions.js";
import { firstLine, run } from "./run.js";

/**
 * An `ss` filter (argv words) for connections whose peer is ip:port, on one of `localPorts` when
 * given (the daemon's or inbound's side of the connection).
 */
export function peerFilter(ip: string, port: number, localPorts: readonly number[] = []): string[] {
  // An IPv4 client of a dual-stack listener appears as ::ffff:a.b.c.d
  const address =
    isIP(ip) === 6 ? ["dst", `[${ip}]`] : ["(", "dst", ip, "or", "dst", `[::ffff:${ip}]`, ")"];
  const filter = [...address, "and", "dport", "=", `:${port}`];
  if (localPorts.length > 0) filter.push("and", "(", ...portsFilter("sport", localPorts), ")");
  return filter;
}

/** `sport = :22 or sport = :109` as argv words. */
function portsFilter(key: "sport" | "dport", ports: readonly number[]): string[] {
  return ports.flatMap((p, i) => (i === 0 ? [] : ["or"]).concat([key, "=", `:${p}`]));
}

/** An `ss` filter for exactly one connection. */
export function connectionFilter(row: SocketRow): string[] {
  const bracket = (ip: string) => (isIP(ip) === 6 ? `[${ip}]` : ip);
  return [
    "src",
    bracket(row.localIp),
    "and",
    "sport",
    "=",
    `:${row.localPort}`,
    "and",
    "dst",
    bracket(row.peerIp),
    "and",
    "dport",
    "=",
    `:${row.peerPort}`,
  ];
}

/** Destroys the TCP sockets matching `filter`; resolves how many there were. */
export async function killSockets(filter: readonly string[]): Promise<number> {
  const result = await run("ss", ["-K", "-tnH", ...filter]);
  if (result.exitCode !== 0) throw new CommandFailedError("ss -K", firstLine(result));
  return result.stdout.split("\n").filter((l) => l.trim() !== "").length;
}

/** Established TCP sockets owned by processes of `uid` (`ss -e` shows `uid:N`). */
export async function socketsOfUid(uid: number): Promise<SocketRow[]> {
  const result = await run("ss", ["-tnHe", "state", "established"]);
  if (result.exitCode !== 0) throw new CommandFailedError("ss", firstLine(result));
  const mine = result.stdout.split("\n").filter((line) => line.includes(` uid:${uid} `));
  return parseSsOutput(mine.join("\n"));
}

/** Pids of processes listening on TCP `ports` (the daemons themselves, never to be killed). */
export async function listenerPids(ports: readonly number[]): Promise<Set<number>> {
  const result = await run("ss", ["-tlnpH", ...portsFilter("sport", ports)]);
  const pids = new Set<number>();
  for (const match of result.stdout.matchAll(/pid=(\d+)/g)) pids.add(Number(match[1]));
  return pids;
}
