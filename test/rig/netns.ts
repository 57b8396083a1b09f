/**
 * Three network namespaces for integration tests: client ⇄ server ⇄ web.
 *
 *   kq-<id>-client  c0 10.200.N.1/30 ──── s0 10.200.N.2/30  kq-<id>-server
 *   kq-<id>-server  s1 10.200.N.5/30 ──── w0 10.200.N.6/30  kq-<id>-web
 *
 * The client reaches only the server (its default route), the server reaches both, the web host
 * answers the server. Nothing is forwarded: traffic from client to web goes through a daemon on
 * the server (sshd, dropbear), as on a seller's host. Veth MTU is 1500; offloads (TSO, GSO, GRO,
 * checksums) are off unless asked for, so nft sees wire-sized packets.
 *
 * Everything a rig makes (namespaces, processes, its temp dir) goes in `cleanup()`. Call it when
 * done; whatever is left runs from a root-level node:test `after()` registered when this module is
 * imported (a hook registered inside `before()` would run as soon as that hook ends) and, as a last
 * resort, synchronously at process exit.
 */
import { after } from "node:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes, randomInt } from "node:crypto";
import { execa, type Options, type Result, type ResultPromise } from "execa";

export type NsRole = "client" | "server" | "web";

export interface NetRigOptions {
  /** Leave veth TSO/GSO/GRO and checksum offloads on (the kernel default). Default false. */
  offloads?: boolean;
}

export interface NetRig {
  /** Random id in every name this rig makes. */
  readonly id: string;
  /** Namespace names by role. */
  readonly ns: Readonly<Record<NsRole, string>>;
  /** Addresses: the client's, the server's on each side, the web host's. */
  readonly addr: {
    readonly client: string;
    readonly serverForClient: string;
    readonly serverForWeb: string;
    readonly web: string;
  };
  /** Whether veth offloads were left on. */
  readonly offloads: boolean;
  /** A temp dir for this rig's files (keys, configs, logs); removed by `cleanup()`. */
  readonly dir: string;
  /** Runs a command to completion inside a namespace; rejects on a non-zero exit. */
  exec(role: NsRole, command: string, args: readonly string[], options?: Options): Promise<Result>;
  /**
   * Starts a long-running command inside a namespace, in its own process group; `cleanup()` kills
   * the group. The returned subprocess never rejects: read `exitCode` if it matters.
   */
  spawn(role: NsRole, command: string, args: readonly string[], options?: Options): ResultPromise;
  /** Kills every process, deletes the namespaces and the temp dir. Idempotent, never throws. */
  cleanup(): Promise<void>;
}

const liveRigs = new Set<NetRig>();
after(async () => {
  for (const rig of liveRigs) await rig.cleanup();
});
// a killed test run must not leave namespaces and daemons behind: exit, so the exit hooks run
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () =>
    process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1)),
  );
}

/** Creates the three namespaces and links them. Cleans up what it made if a step fails. */
export async function createNetRig(options: NetRigOptions = {}): Promise<NetRig> {
  const id = randomBytes(3).toString("hex");
  const subnet = randomInt(0, 256);
  const ns: Record<NsRole, string> = {
    client: `kq-${id}-client`,
    server: `kq-${id}-server`,
    web: `kq-${id}-web`,
  };
  const addr = {
    client: `10.200.${subnet}.1`,
    serverForClient: `10.200.${subnet}.2`,
    serverForWeb: `10.200.${subnet}.5`,
    web: `10.200.${subnet}.6`,
  };
  const dir = mkdtempSync(join(tmpdir(), `kq-${id}-`));
  const children: ResultPromise[] = [];
  let cleaned = false;

  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    liveRigs.delete(rig);
    process.off("exit", cleanupAtExit);
    for (const child of children) killGroup(child.pid);
    await Promise.allSettled(children);
    cleanupSync(ns, dir);
  };
  const cleanupAtExit = (): void => {
    if (cleaned) return;
    cleaned = true;
    for (const child of children) killGroup(child.pid);
    cleanupSync(ns, dir);
  };
  process.on("exit", cleanupAtExit);

  const inNs = (role: NsRole, command: string, args: readonly string[]): string[] => [
    "netns",
    "exec",
    ns[role],
    command,
    ...args,
  ];
  const rig: NetRig = {
    id,
    ns,
    addr,
    offloads: options.offloads ?? false,
    dir,
    exec: (role, command, args, opts) => execa("ip", inNs(role, command, args), opts ?? {}),
    spawn(role, command, args, opts) {
      const child = execa("ip", inNs(role, command, args), {
        ...opts,
        detached: true,
        reject: false,
      });
      children.push(child);
      return child;
    },
    cleanup,
  };
  liveRigs.add(rig);

  try {
    for (const name of Object.values(ns)) await execa("ip", ["netns", "add", name]);
    await execa(
      "ip",
      ["link", "add", "c0", "netns", ns.client, "type", "veth"].concat([
        "peer",
        "name",
        "s0",
        "netns",
        ns.server,
      ]),
    );
    await execa(
      "ip",
      ["link", "add", "s1", "netns", ns.server, "type", "veth"].concat([
        "peer",
        "name",
        "w0",
        "netns",
        ns.web,
      ]),
    );
    const links: Array<[NsRole, string, string]> = [
      ["client", "c0", `${addr.client}/30`],
      ["server", "s0", `${addr.serverForClient}/30`],
      ["server", "s1", `${addr.serverForWeb}/30`],
      ["web", "w0", `${addr.web}/30`],
    ];
    for (const role of Object.keys(ns) as NsRole[]) {
      await rig.exec(role, "ip", ["link", "set", "lo", "up"]);
    }
    for (const [role, dev, cidr] of links) {
      await rig.exec(role, "ip", ["link", "set", dev, "mtu", "1500"]);
      if (!rig.offloads) {
        const features = ["tso", "gso", "gro", "tx", "rx"].flatMap((f) => [f, "off"]);
        await rig.exec(role, "ethtool", ["-K", dev, ...features]);
      }
      await rig.exec(role, "ip", ["addr", "add", cidr, "dev", dev]);
      await rig.exec(role, "ip", ["link", "set", dev, "up"]);
    }
    await rig.exec("client", "ip", ["route", "add", "default", "via", addr.serverForClient]);
    await rig.exec("web", "ip", ["route", "add", "default", "via", addr.serverForWeb]);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return rig;
}

/** The offload features of a rig's device as ethtool reports them, e.g. `{ tso: "off", ... }`. */
export async function offloadState(
  rig: NetRig,
  role: NsRole,
  dev: string,
): Promise<Record<string, string>> {
  const { stdout } = await rig.exec(role, "ethtool", ["-k", dev]);
  const wanted: Record<string, string> = {
    "tcp-segmentation-offload": "tso",
    "generic-segmentation-offload": "gso",
    "generic-receive-offload": "gro",
    "tx-checksumming": "tx",
    "rx-checksumming": "rx",
  };
  const state: Record<string, string> = {};
  for (const line of String(stdout).split("\n")) {
    const match = /^([a-z-]+): (on|off)/.exec(line.trim());
    const short = match?.[1] ? wanted[match[1]] : undefined;
    if (short && match?.[2]) state[short] = match[2];
  }
  return state;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Kills whatever still runs in the namespaces, then deletes them and the temp dir. */
function cleanupSync(ns: Record<NsRole, string>, dir: string): void {
  for (const name of Object.values(ns)) {
    const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    spawnSync("ip", ["netns", "del", name]);
  }
  rmSync(dir, { recursive: true, force: true });
}
