/**
 * Real SSH daemons, SSH clients, a byte-exact web server and curl, run in a {@link NetRig}.
 *
 * - sshd (OpenSSH) and dropbear run in the server namespace with host keys, configs and log files
 *   in the rig's temp dir; both accept password logins of `kqt*` test accounts only.
 * - Clients run in the client namespace by default: `ssh -N -D` (password through SSH_ASKPASS,
 *   so no sshpass is needed) and `dbclient -N -L` (password through DROPBEAR_PASSWORD).
 * - The web server runs in the web namespace: `GET /bytes?n=N` answers exactly N random bytes,
 *   `PUT`/`POST` anywhere swallows the body and answers its length.
 *
 * Every process is started with `rig.spawn`, so the rig's cleanup kills it.
 */
import {
  mkdirSync,
  readFileSync,
  writeFileSync,
  existsSync,
  openSync,
  readSync,
  closeSync,
} from "node:fs";
import { join } from "node:path";
import { randomFillSync } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { execa, type ResultPromise } from "execa";
import type { NetRig, NsRole } from "./netns.js";

/** A daemon started in the rig. */
export interface RunningDaemon {
  /** Port it listens on inside the server namespace. */
  port: number;
  /** Its log file: sshd's `-E` file, or dropbear's stderr (it logs there with `-E`). */
  logFile: string;
  process: ResultPromise;
}

/** A client connection kept open (a SOCKS proxy or a port forward). */
export interface RunningClient {
  /** The local port in the client's namespace (SOCKS port or forwarded port). */
  localPort: number;
  process: ResultPromise;
  /** Ends the client with SIGTERM and waits for it. */
  stop(): Promise<void>;
}

/** Starts OpenSSH's sshd in the server namespace. Resolves once it listens. */
export async function startSshd(
  rig: NetRig,
  options: { port?: number } = {},
): Promise<RunningDaemon> {
  const port = options.port ?? 22;
  const dir = join(rig.dir, `sshd-${port}`);
  mkdirSync(dir, { recursive: true });
  // sshd refuses to start without its privilege separation directory
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = join(dir, "host_ed25519");
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 0.0.0.0",
      "ListenAddress ::",
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PasswordAuthentication yes",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication no",
      "UsePAM no",
      "PermitRootLogin no",
      "AllowUsers kqt*",
      "AllowTcpForwarding yes",
      "StrictModes no",
      "LogLevel INFO",
      "MaxStartups 100:30:200",
      "",
    ].join("\n"),
  );
  const logFile = join(dir, "sshd.log");
  writeFileSync(logFile, "");
  const process = rig.spawn("server", "/usr/sbin/sshd", ["-D", "-E", logFile, "-f", config]);
  await waitForListen(rig, "server", port, process);
  return { port, logFile, process };
}

/** Starts Dropbear in the server namespace, logging to a file. Resolves once it listens. */
export async function startDropbear(
  rig: NetRig,
  options: { port?: number } = {},
): Promise<RunningDaemon> {
  const port = options.port ?? 109;
  const dir = join(rig.dir, `dropbear-${port}`);
  mkdirSync(dir, { recursive: true });
  const hostKey = join(dir, "host_ed25519");
  await execa("dropbearkey", ["-t", "ed25519", "-f", hostKey]);
  const logFile = join(dir, "dropbear.log");
  writeFileSync(logFile, "");
  // -F: foreground, -E: log to stderr instead of syslog
  const process = rig.spawn(
    "server",
    "dropbear",
    ["-F", "-E", "-p", String(port), "-r", hostKey, "-P", join(dir, "dropbear.pid")],
    { stderr: { file: logFile, append: true } },
  );
  await waitForListen(rig, "server", port, process);
  return { port, logFile, process };
}

export interface ClientOptions {
  user: string;
  password: string;
  /** Address and port of the daemon as seen from `role`. */
  host: string;
  port: number;
  /** Namespace the client runs in. Default "client". */
  role?: NsRole;
}

/**
 * `ssh -N -D 127.0.0.1:socksPort`: a SOCKS proxy through OpenSSH's client. Resolves once the
 * SOCKS port listens (which is after authentication).
 */
export async function startSshSocks(
  rig: NetRig,
  options: ClientOptions & { socksPort?: number },
): Promise<RunningClient> {
  const role = options.role ?? "client";
  const socksPort = options.socksPort ?? 1080;
  const askpass = join(rig.dir, "askpass.sh");
  if (!existsSync(askpass)) {
    writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$KQ_TEST_PASSWORD"\n', { mode: 0o700 });
  }
  const process = rig.spawn(
    role,
    "ssh",
    [
      "-N",
      "-F",
      "/dev/null",
      "-D",
      `127.0.0.1:${socksPort}`,
      "-p",
      String(options.port),
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "PreferredAuthentications=password",
      "-o",
      "NumberOfPasswordPrompts=1",
      "-o",
      "ExitOnForwardFailure=yes",
      "-o",
      "LogLevel=ERROR",
      `${options.user}@${options.host}`,
    ],
    {
      stdin: "ignore",
      env: {
        SSH_ASKPASS: askpass,
        SSH_ASKPASS_REQUIRE: "force",
        KQ_TEST_PASSWORD: options.password,
        DISPLAY: ":0",
      },
    },
  );
  await waitForListen(rig, role, socksPort, process);
  return { localPort: socksPort, process, stop: () => stopClient(process) };
}

/**
 * `dbclient -N -L 127.0.0.1:localPort:target`: a port forward through Dropbear's client. Resolves
 * once the local port listens (which is after authentication).
 */
export async function startDbclientForward(
  rig: NetRig,
  options: ClientOptions & { localPort?: number; targetHost: string; targetPort: number },
): Promise<RunningClient> {
  const role = options.role ?? "client";
  const localPort = options.localPort ?? 8080;
  const process = rig.spawn(
    role,
    "dbclient",
    [
      "-N",
      "-y",
      "-y",
      "-p",
      String(options.port),
      "-L",
      `127.0.0.1:${localPort}:${options.targetHost}:${options.targetPort}`,
      `${options.user}@${options.host}`,
    ],
    { stdin: "ignore", env: { DROPBEAR_PASSWORD: options.password, HOME: rig.dir } },
  );
  await waitForListen(rig, role, localPort, process);
  return { localPort, process, stop: () => stopClient(process) };
}

/**
 * `socat` listening on `listenPort` (all addresses) and relaying each connection to
 * 127.0.0.1:targetPort: what stunnel or a WebSocket proxy in front of an SSH daemon does.
 */
export async function startLoopbackProxy(
  rig: NetRig,
  options: { listenPort: number; targetPort: number; role?: NsRole },
): Promise<{ port: number; process: ResultPromise }> {
  const role = options.role ?? "server";
  const process = rig.spawn(role, "socat", [
    `TCP-LISTEN:${options.listenPort},reuseaddr,fork`,
    `TCP:127.0.0.1:${options.targetPort}`,
  ]);
  await waitForListen(rig, role, options.listenPort, process);
  // returned inside an object: a subprocess is a thenable, and awaiting it waits for its exit
  return { port: options.listenPort, process };
}

const WEB_SERVER = `
import http from "node:http";
import { randomFillSync } from "node:crypto";
const block = randomFillSync(Buffer.alloc(65536));
const [host, port] = process.argv.slice(2);
http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (req.method === "GET" && url.pathname === "/bytes") {
    let left = Number(url.searchParams.get("n") ?? "0");
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": left });
    const pump = () => {
      while (left > 0) {
        const piece = block.subarray(0, Math.min(left, block.length));
        left -= piece.length;
        if (!res.write(piece)) return void res.once("drain", pump);
      }
      res.end();
    };
    return pump();
  }
  let received = 0;
  req.on("data", (chunk) => { received += chunk.length; });
  req.on("end", () => res.end(String(received)));
}).listen(Number(port), host, () => console.log("listening"));
`;

/** The web server in the web namespace. Resolves once it listens. */
export async function startWebServer(
  rig: NetRig,
  options: { port?: number } = {},
): Promise<{ port: number; url(path: string): string; process: ResultPromise }> {
  const port = options.port ?? 8000;
  const script = join(rig.dir, "web-server.mjs");
  writeFileSync(script, WEB_SERVER);
  const process = rig.spawn("web", globalThis.process.execPath, [
    script,
    rig.addr.web,
    String(port),
  ]);
  await waitForListen(rig, "web", port, process);
  return { port, url: (path) => `http://${rig.addr.web}:${port}${path}`, process };
}

/** A file of `bytes` random bytes in the rig's dir, for uploads. */
export function randomFile(rig: NetRig, name: string, bytes: number): string {
  const path = join(rig.dir, name);
  const buffer = Buffer.alloc(bytes);
  for (let offset = 0; offset < bytes; offset += 65536) {
    randomFillSync(buffer, offset, Math.min(65536, bytes - offset));
  }
  writeFileSync(path, buffer);
  return path;
}

export interface CurlOptions {
  url: string;
  /** `host:port` of a SOCKS5 proxy; the name is resolved by the proxy (`--socks5-hostname`). */
  socks?: string;
  /** Upload this file with PUT instead of downloading. */
  uploadFile?: string;
  role?: NsRole;
}

/** Runs curl in a namespace; returns the body bytes it moved, as curl counted them. */
export async function curl(
  rig: NetRig,
  options: CurlOptions,
): Promise<{ downloaded: number; uploaded: number }> {
  const args = ["-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download} %{size_upload}"];
  if (options.socks) args.push("--socks5-hostname", options.socks);
  if (options.uploadFile) args.push("-T", options.uploadFile);
  args.push(options.url);
  const { stdout } = await rig.exec(options.role ?? "client", "curl", args, { timeout: 120_000 });
  const [downloaded, uploaded] = String(stdout).trim().split(" ").map(Number);
  return { downloaded: downloaded ?? NaN, uploaded: uploaded ?? NaN };
}

/**
 * Waits until a line of a log file passes `test`, reading from byte `fromOffset` on; returns the
 * line and the offset after it. Rejects after `timeoutMs` (default 10,000) with the file's tail.
 */
export async function waitForLogLine(
  file: string,
  test: (line: string) => boolean,
  options: { fromOffset?: number; timeoutMs?: number } = {},
): Promise<{ line: string; offset: number }> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const start = options.fromOffset ?? 0;
  while (Date.now() < deadline) {
    const text = readFrom(file, start).toString("utf8");
    for (
      let pos = 0, nl = text.indexOf("\n");
      nl >= 0;
      pos = nl + 1, nl = text.indexOf("\n", pos)
    ) {
      const line = text.slice(pos, nl);
      if (test(line)) return { line, offset: start + Buffer.byteLength(text.slice(0, nl + 1)) };
    }
    await sleep(25);
  }
  const tail = readFileSync(file, "utf8").split("\n").slice(-10).join("\n");
  throw new Error(
    `no matching line in ${file} after ${options.timeoutMs ?? 10_000} ms; tail:\n${tail}`,
  );
}

function readFrom(file: string, offset: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const chunks: Buffer[] = [];
    for (;;) {
      const buffer = Buffer.alloc(65536);
      const n = readSync(fd, buffer, 0, buffer.length, offset);
      if (n === 0) break;
      chunks.push(buffer.subarray(0, n));
      offset += n;
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/** Polls `ss -ltnH` in the namespace until `port` listens; fails early if the process exits. */
export async function waitForListen(
  rig: NetRig,
  role: NsRole,
  port: number,
  process?: ResultPromise,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void process?.then(() => (exited = true));
  while (Date.now() < deadline) {
    const { stdout } = await rig.exec(role, "ss", ["-ltnH", `sport = :${port}`]);
    if (String(stdout).trim() !== "") return;
    if (exited) {
      const result = await process;
      throw new Error(`exited before listening on ${port}: ${String(result?.stderr ?? "")}`);
    }
    await sleep(25);
  }
  throw new Error(`nothing listens on port ${port} in ${rig.ns[role]} after ${timeoutMs} ms`);
}

async function stopClient(process: ResultPromise): Promise<void> {
  process.kill("SIGTERM");
  await process;
}
