/**
 * Worker CPU with every account limited (far from its limit), idle or busy, at several account
 * counts; compared with a worker that re-reads every counter every 10 ms. Issue 5,
 * acceptance 3 is the row "1000 Xray + 200 SSH, idle". Runs inside a network namespace of its
 * own (SSH accounting creates its nft table there, never on the host):
 *   npm run build && bash bench/enforce/worker-cpu.sh [ROWS...]
 * A row is XRAY[+SSH][:busy], e.g. `1000+200` or `5000+1000:busy`; the default rows are the
 * issue's (10, 1,000 and 5,000 limited accounts, idle and busy).
 * The engine is bench/xray/stub-engine.ts: still counters (idle) or counters that grow on
 * every call (busy: traffic on every Xray account, every poll). SSH accounts are Linux users in
 * a passwd file with no sessions (the cost of SSH sessions is in bench/ssh).
 * Environment: BENCH_WINDOW_MS (60000), BENCH_WARMUP_MS (10000), BENCH_ONLY_KUOTA=1 (skip the
 * 10 ms loop), BENCH_THREADS=1 (CPU per thread), BENCH_PROFILE_DIR (a --cpu-prof of the steady
 * state, limits set before start).
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
const LIMIT = 10 * 1024 ** 3;

type Row = { xray: number; ssh: number; busy: boolean };

function parseRow(text: string): Row {
  const m = /^(\d+)(?:\+(\d+))?(:busy)?$/.exec(text);
  if (!m) throw new Error(`row "${text}": write XRAY[+SSH][:busy], e.g. 1000+200:busy`);
  return { xray: Number(m[1]), ssh: Number(m[2] ?? 0), busy: m[3] !== undefined };
}

/** CPU (ms) of a process from /proc/PID/stat: its own threads, and the commands it waited for. */
function cpuMs(pid: number): { own: number; children: number } {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return {
    own: (Number(f[11]) + Number(f[12])) * 10,
    children: (Number(f[13]) + Number(f[14])) * 10,
  };
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

type Measured = { corePct: number; childrenPct: number; polls: number };

async function measure(row: Row, pollMs: number): Promise<Measured> {
  const xray = Array.from({ length: row.xray }, (_, i) => `x${i}`);
  const ssh = Array.from({ length: row.ssh }, (_, i) => `s${i}`);
  const engine = await startStubEngine(xray, row.busy);
  const dir = mkdtempSync(join(tmpdir(), "kuota-cpu-"));
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
    SSH_ACCOUNTING: row.ssh > 0 ? "true" : "false",
    SSH_AUTH_LOG: join(dir, "auth.log"),
    CAPTURE_ENABLED: "false",
    KUOTA_LOG_LEVEL: "warn",
  };
  {
    // Adopt the accounts and set their limits before the measured run, so the window (and a
    // profile) holds the steady state, not the set-up (6,000 limit changes through the socket
    // while 5,000 accounts are busy take minutes). A second short run writes every usage file
    // with its limit at its stop, as a restarted worker finds them on a seller's server.
    const setUpRun = async () => {
      const run = spawn(process.execPath, [BIN, "worker"], { env, stdio: "ignore" });
      await sleep(3000);
      run.kill("SIGTERM");
      await new Promise((r) => run.once("exit", r));
    };
    await setUpRun();
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(join(dir, "kuota.db"));
    db.prepare("UPDATE accounts SET limit_bytes = ?").run(LIMIT);
    db.close();
    await setUpRun();
  }
  const nodeArgs = profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : [];
  const worker = spawn(process.execPath, [...nodeArgs, BIN, "worker"], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  await sleep(3000);
  const api = new ControlClient(socket);
  await sleep(WARMUP_MS);
  const pid = worker.pid as number;
  const c0 = cpuMs(pid);
  const threadsBefore = threadCpu(pid);
  const polls0 = engine.calls();
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const c1 = cpuMs(pid);
  const wall = performance.now() - t0;
  const polls = engine.calls() - polls0;
  if (process.env.BENCH_THREADS) {
    for (const [tid, ms] of threadCpu(pid)) {
      const spent = ms - (threadsBefore.get(tid) ?? 0);
      if (spent > 0) console.error(`  thread ${tid}: ${spent} ms in the window`);
    }
  }
  const status = (await api.get("/v1/status")) as { enforce?: { limited: number; hot: number } };
  if (status.enforce && status.enforce.limited !== row.xray + row.ssh) {
    console.error(
      `  warning: ${status.enforce.limited} accounts limited, not ${row.xray + row.ssh}`,
    );
  }
  if (status.enforce && status.enforce.hot > 0) {
    console.error(`  warning: ${status.enforce.hot} accounts hot (near their limit)`);
  }
  worker.kill("SIGTERM");
  await new Promise((r) => worker.once("exit", r));
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    corePct: ((c1.own - c0.own) / wall) * 100,
    childrenPct: ((c1.children - c0.children) / wall) * 100,
    polls: polls / (wall / 1000),
  };
}

const rows = (
  process.argv.length > 2
    ? process.argv.slice(2)
    : ["10+2", "10+2:busy", "1000+200", "1000+200:busy", "5000+1000", "5000+1000:busy"]
).map(parseRow);
const modes = [
  ["kuota (headroom schedule, regular poll 1 s)", 1000],
  ["every counter every 10 ms", 10],
] as const;

console.log(
  `| accounts (Xray + SSH) | traffic | mode | full polls/s | worker CPU (% of one core) | + commands it ran |`,
);
console.log(`|---|---|---|---:|---:|---:|`);
for (const row of rows) {
  for (const [mode, pollMs] of process.env.BENCH_ONLY_KUOTA ? modes.slice(0, 1) : modes) {
    const r = await measure(row, pollMs);
    console.log(
      `| ${row.xray} + ${row.ssh} | ${row.busy ? "busy" : "idle"} | ${mode} | ` +
        `${r.polls.toFixed(1)} | ${r.corePct.toFixed(2)} % | ${r.childrenPct.toFixed(2)} % |`,
    );
  }
}
