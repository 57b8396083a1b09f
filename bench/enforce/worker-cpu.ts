/**
 * Issue 5, acceptance 3: worker CPU with 1,000 Xray and 200 SSH accounts that all
 * have limits, far from them, idle; compared with re-reading every counter every
 * 10 ms. Runs inside a network namespace of its own (SSH accounting creates its
 * nft table there, never on the host):
 *   npm run build && bash bench/enforce/idle-cpu.sh
 * The engine is bench/xray/stub-engine.ts with still counters (idle accounts).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startStubEngine } from "../xray/stub-engine.js";
import { ControlClient } from "../../src/control/client.js";

const BIN = resolve("dist/src/cli/main.js");
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 10_000);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 60_000);
const XRAY_ACCOUNTS = 1000;
const SSH_ACCOUNTS = 200;

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

/** CPU (ms) of each thread of a process, from /proc/PID/task. */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const f =
      readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    out.set(tid, (Number(f[11]) + Number(f[12])) * 10);
  }
  return out;
}

async function measure(pollMs: number): Promise<{ corePct: number; cpuMs: number }> {
  const xray = Array.from({ length: XRAY_ACCOUNTS }, (_, i) => `x${i}`);
  const ssh = Array.from({ length: SSH_ACCOUNTS }, (_, i) => `s${i}`);
  const engine = await startStubEngine(xray, false);
  const dir = mkdtempSync(join(tmpdir(), "kuota-idle-"));
  const clients = xray.map((u, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    email: u,
  }));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      inbounds: [
        { tag: "vless-in", port: 1, protocol: "vless", settings: { clients, decryption: "none" } },
      ],
    }),
  );
  writeFileSync(
    join(dir, "passwd"),
    ssh.map((u, i) => `${u}:x:${2000 + i}:${2000 + i}::/nonexistent:/bin/false`).join("\n") + "\n",
  );
  writeFileSync(join(dir, "kuota.env"), "");
  writeFileSync(join(dir, "auth.log"), "");
  const socket = join(dir, "kuota.sock");
  const profile = process.env.BENCH_PROFILE_DIR;
  const env = {
    ...process.env,
    KUOTA_ENV_FILE: join(dir, "kuota.env"),
    KUOTA_DB: join(dir, "kuota.db"),
    KUOTA_DATA_DIR: join(dir, "myvpn"),
    KUOTA_SOCKET: socket,
    KUOTA_SOCKET_GROUP: "",
    KUOTA_PASSWD_FILE: join(dir, "passwd"),
    XRAY_CONFIG: join(dir, "config.json"),
    XRAY_ACCESS_LOG: join(dir, "access.log"),
    XRAY_API: engine.address,
    XRAY_FLAVOR: "v2ray",
    KUOTA_POLL_MS: String(pollMs),
    SSH_ACCOUNTING: process.env.BENCH_SSH ?? "true",
    SSH_AUTH_LOG: join(dir, "auth.log"),
    CAPTURE_ENABLED: "false",
    KUOTA_LOG_LEVEL: "warn",
  };
  if (profile) {
    // Adopt the accounts and set their limits before the profiled run, so the
    // profile holds the steady state, not the set-up.
    const first = spawn(process.execPath, [BIN, "worker"], { env, stdio: "ignore" });
    await sleep(3000);
    first.kill("SIGTERM");
    await new Promise((r) => first.once("exit", r));
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(join(dir, "kuota.db"));
    db.prepare("UPDATE accounts SET limit_bytes = ?").run(10 * 1024 ** 3);
    db.close();
  }
  const nodeArgs = profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : [];
  const worker = spawn(process.execPath, [...nodeArgs, BIN, "worker"], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  await sleep(3000);
  const api = new ControlClient(socket);
  if (!process.env.BENCH_NO_LIMITS && !profile) {
    for (const name of [...xray, ...ssh]) {
      await api.post(`/v1/accounts/${name}/limit`, { limit: "10GB" });
    }
  }
  await sleep(WARMUP_MS);
  const pid = worker.pid as number;
  const c0 = cpuMs(pid);
  const threadsBefore = threadCpu(pid);
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const cpu = cpuMs(pid) - c0;
  if (process.env.BENCH_THREADS) {
    const after = threadCpu(pid);
    for (const [tid, ms] of after) {
      const spent = ms - (threadsBefore.get(tid) ?? 0);
      if (spent > 0) console.error(`thread ${tid}: ${spent} ms in the window`);
    }
  }
  const wall = performance.now() - t0;
  worker.kill("SIGTERM");
  await new Promise((r) => worker.once("exit", r));
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
  return { corePct: (cpu / wall) * 100, cpuMs: cpu };
}

console.log(`| mode | KUOTA_POLL_MS | window | worker CPU (% of one core) |`);
console.log(`|---|---:|---:|---:|`);
const modes = [
  ["kuota (headroom schedule, regular poll 1 s)", 1000],
  ["every counter every 10 ms", 10],
] as const;
for (const [mode, pollMs] of process.env.BENCH_ONLY_KUOTA ? modes.slice(0, 1) : modes) {
  const r = await measure(pollMs);
  console.log(`| ${mode} | ${pollMs} | ${WINDOW_MS / 1000} s | ${r.corePct.toFixed(2)} % |`);
}
