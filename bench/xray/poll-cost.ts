/**
 * Worker CPU per poll and per second while every account has traffic, at several
 * account counts and poll intervals. Run: `npm run build && npx tsx bench/xray/poll-cost.ts`
 * (as root is not needed). Prints a Markdown table; results are kept in bench/README.md.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startStubEngine } from "./stub-engine.js";

const BIN = resolve("dist/src/cli/main.js");
const CLK_TCK = 100;
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 4000);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 15000);

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 after the comm).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

function xrayConfig(users: string[]): string {
  const clients = users.map((u, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    email: u,
  }));
  return JSON.stringify({
    inbounds: [
      { tag: "vless-in", port: 1, protocol: "vless", settings: { clients, decryption: "none" } },
    ],
  });
}

async function statusPolls(socket: string): Promise<number> {
  const http = await import("node:http");
  return new Promise((res, rej) => {
    http
      .get({ socketPath: socket, path: "/v1/status" }, (r) => {
        let body = "";
        r.on("data", (c) => (body += c));
        r.on("end", () => res(JSON.parse(body).xray.polls as number));
      })
      .on("error", rej);
  });
}

async function measure(accounts: number, pollMs: number) {
  const users = Array.from({ length: accounts }, (_, i) => `user${i}`);
  const engine = await startStubEngine(users);
  const dir = mkdtempSync(join(tmpdir(), "kuota-bench-"));
  writeFileSync(join(dir, "config.json"), xrayConfig(users));
  writeFileSync(join(dir, "passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  const socket = join(dir, "kuota.sock");
  const worker = spawn(process.execPath, [BIN, "worker"], {
    env: {
      ...process.env,
      KUOTA_ENV_FILE: join(dir, "none.env"),
      KUOTA_DB: join(dir, "kuota.db"),
      KUOTA_DATA_DIR: join(dir, "myvpn"),
      KUOTA_SOCKET: socket,
      KUOTA_SOCKET_GROUP: "",
      KUOTA_PASSWD_FILE: join(dir, "passwd"),
      XRAY_CONFIG: join(dir, "config.json"),
      XRAY_API: engine.address,
      XRAY_FLAVOR: "v2ray",
      KUOTA_POLL_MS: String(pollMs),
      CAPTURE_ENABLED: "false",
      SSH_ACCOUNTING: "false",
      KUOTA_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  writeFileSync(join(dir, "none.env"), "");
  await sleep(WARMUP_MS);
  const pid = worker.pid as number;
  const cpu0 = cpuMs(pid);
  const polls0 = await statusPolls(socket);
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const cpu1 = cpuMs(pid);
  const polls1 = await statusPolls(socket);
  const wall = performance.now() - t0;
  worker.kill("SIGTERM");
  await new Promise((r) => worker.once("exit", r));
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
  const polls = polls1 - polls0;
  const cpu = cpu1 - cpu0;
  return {
    accounts,
    pollMs,
    pollsPerS: (polls / wall) * 1000,
    cpuPerPollMs: polls ? cpu / polls : NaN,
    corePct: (cpu / wall) * 100,
  };
}

const cases: [number, number][] = [
  [10, 1000],
  [1000, 1000],
  [5000, 1000],
  [10, 10],
  [1000, 10],
  [5000, 10],
];
console.log(
  "| accounts | KUOTA_POLL_MS | polls/s achieved | worker CPU per poll | worker CPU (% of one core) |",
);
console.log("|---:|---:|---:|---:|---:|");
for (const [n, p] of cases) {
  const r = await measure(n, p);
  console.log(
    `| ${r.accounts} | ${r.pollMs} | ${r.pollsPerS.toFixed(1)} | ${r.cpuPerPollMs.toFixed(2)} ms | ${r.corePct.toFixed(1)} % |`,
  );
}
