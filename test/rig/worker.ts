import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

/** The built CLI; integration tests run `npm run build` first (see package.json). */
export const KUOTA_BIN = resolve("dist/src/cli/main.js");

export type WorkerEnv = Record<string, string>;

/**
 * Sandboxes still alive. Cleanup is registered once, when this module loads:
 * an `after` registered inside a `before` hook would run as soon as the hook ends.
 */
const live = new Set<WorkerSandbox>();
after(async () => {
  await Promise.allSettled([...live].map((s) => s.cleanup()));
});
process.on("exit", () => {
  for (const s of live) s.killNow();
});

/** A scratch area for one worker: database, data dir (/etc/myvpn stand-in), socket. */
export class WorkerSandbox {
  readonly dir: string;
  readonly env: WorkerEnv;
  private proc: ChildProcess | null = null;
  private logs: string[] = [];

  constructor(extra: WorkerEnv = {}) {
    this.dir = mkdtempSync(join(tmpdir(), "kuota-test-"));
    this.env = {
      KUOTA_ENV_FILE: join(this.dir, "kuota.env"),
      KUOTA_DB: join(this.dir, "db", "kuota.db"),
      KUOTA_DATA_DIR: join(this.dir, "myvpn"),
      KUOTA_SOCKET: join(this.dir, "kuota.sock"),
      KUOTA_SOCKET_GROUP: "",
      KUOTA_PASSWD_FILE: join(this.dir, "passwd"),
      XRAY_CONFIG: join(this.dir, "no-xray-config.json"),
      KUOTA_LOG_LEVEL: "debug",
      // Host capture adds an nft chain and a tcpdump on NFLOG group 41 in the worker's network
      // namespace: off unless a test asks, so workers in the host's namespace leave it alone.
      CAPTURE_ENABLED: "false",
      // SSH accounting adds kuota's nft table and follows the auth log: off unless a test asks.
      SSH_ACCOUNTING: "false",
      ...extra,
    };
    writeFileSync(this.env.KUOTA_ENV_FILE as string, "# test sandbox\n");
    if (!extra.KUOTA_PASSWD_FILE)
      writeFileSync(this.env.KUOTA_PASSWD_FILE as string, "root:x:0:0:root:/root:/bin/bash\n");
    live.add(this);
  }

  get dataDir(): string {
    return this.env.KUOTA_DATA_DIR as string;
  }

  usageFile(user: string): string {
    return join(this.dataDir, "usage", `${user}.json`);
  }

  readUsage(user: string): {
    total_usage: { upload_bytes: number; download_bytes: number; total_bytes: number };
  } & Record<string, unknown> {
    return JSON.parse(readFileSync(this.usageFile(user), "utf8"));
  }

  /**
   * Starts `kuota worker` and waits for its control socket. `netns` runs it inside that network
   * namespace (`ip netns exec`, which execs, so the pid is the worker's).
   */
  async start(extra: WorkerEnv = {}, options: { netns?: string } = {}): Promise<void> {
    if (this.proc) throw new Error("worker already running");
    Object.assign(this.env, extra);
    const argv = [process.execPath, KUOTA_BIN, "worker"];
    if (options.netns !== undefined) argv.unshift("ip", "netns", "exec", options.netns);
    const proc = spawn(argv[0] as string, argv.slice(1), {
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    proc.stdout?.on("data", (b: Buffer) =>
      this.logs.push(...b.toString().split("\n").filter(Boolean)),
    );
    proc.stderr?.on("data", (b: Buffer) =>
      this.logs.push(...b.toString().split("\n").filter(Boolean)),
    );
    const deadline = Date.now() + 15_000;
    // a restarted worker's lines follow the previous one's: only this start's lines count
    const from = this.logs.length;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null)
        throw new Error(`worker exited ${proc.exitCode}:\n${this.logs.join("\n")}`);
      if (this.logs.slice(from).some((l) => l.includes('"worker started"'))) return;
      await sleep(50);
    }
    throw new Error(`worker did not start:\n${this.logs.join("\n")}`);
  }

  /** Log lines (JSON) so far. */
  get logLines(): string[] {
    return this.logs;
  }

  /** Waits until a log line matches. */
  async waitForLog(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.logs.find((l) => pattern.test(l));
      if (hit) return hit;
      await sleep(50);
    }
    throw new Error(`no log line matching ${pattern}:\n${this.logs.slice(-30).join("\n")}`);
  }

  /** SIGTERM and wait for exit; resolves to the exit code. */
  async stop(): Promise<number | null> {
    return this.signal("SIGTERM");
  }

  /** SIGKILL, as a crash or an OOM kill would. */
  async kill9(): Promise<void> {
    await this.signal("SIGKILL");
  }

  private async signal(sig: NodeJS.Signals): Promise<number | null> {
    const proc = this.proc;
    if (!proc) return null;
    this.proc = null;
    if (proc.exitCode !== null) return proc.exitCode;
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    proc.kill(sig);
    return exited;
  }

  /** Runs the CLI against this sandbox's worker. */
  async cli(
    args: string[],
    env: WorkerEnv = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolvePromise) => {
      const p = spawn(process.execPath, [KUOTA_BIN, ...args], {
        env: { ...process.env, ...this.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      p.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      p.on("exit", (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
    });
  }

  /** Synchronous last resort when the test process exits. */
  killNow(): void {
    try {
      this.proc?.kill("SIGKILL");
    } catch {
      // already gone
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  async cleanup(): Promise<void> {
    live.delete(this);
    await this.kill9();
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}
