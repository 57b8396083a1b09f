/**
 * CPU of SSH accounting in steady state: 1,000 SSH accounts, 2,000 live sessions, counters read
 * every second, sessions rebuilt every 10 s. Runs the real SshCollector (with a real SQLite store)
 * inside a throw-away network namespace.
 *
 * Sessions are simulated: a child process listens on port 22 and holds 2,000 loopback TCP
 * connections, each mapped in nft to an account (two per account), and sends 100 bytes on every
 * one each second, so every account's counters grow between reads (the costly case for the store).
 * `ss` therefore sees 2,000 established sockets on the SSH port, as with real daemons; what is not
 * simulated is reading /proc for each OpenSSH session's processes during a rebuild.
 *
 *   node --import tsx bench/ssh/worker-cpu.ts [seconds=30] [norebuild]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";

const seconds = Number(process.argv[2] ?? 30);
/** `norebuild` leaves out the 10 s rebuilds, to tell their cost from the reads'. */
const rebuilds = process.argv[3] !== "norebuild";
const ACCOUNTS = 1000;
const SESSIONS = 2000;
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU ms of this process and of its reaped children (nft, ss), from /proc/self/stat. */
function cpuMs(): { self: number; children: number } {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  const tick = (i: number): number => Number(fields[i - 3]) * TICK_MS;
  return { self: tick(14) + tick(15), children: tick(16) + tick(17) };
}

const SESSION_HOLDER = `
const net = require("node:net");
const n = Number(process.argv[1]);
const server = net.createServer((s) => s.on("data", () => {})).listen(22, "127.0.0.1", async () => {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect(22, "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    sockets.push(s);
  }
  console.log(sockets.map((s) => s.localPort).join(","));
  const chunk = Buffer.alloc(100, 1);
  setInterval(() => { for (const s of sockets) s.write(chunk); }, 1000);
});
`;

async function inside(): Promise<void> {
  const { SqliteStore } = await import("../../src/store/sqlite/sqlite-store.js");
  const { SshCollector } = await import("../../src/collect/ssh/ssh-collector.js");
  const { Nft } = await import("../../src/collect/ssh/nft.js");
  const { TABLE, addSessionScript } = await import("../../src/collect/ssh/nft-ruleset.js");
  const { pino } = await import("pino");
  const rebuildMs: number[] = [];
  const log = pino(
    { level: "debug" },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { msg?: string; durationMs?: number };
        if (entry.msg === "SSH sessions rebuilt" && entry.durationMs !== undefined)
          rebuildMs.push(entry.durationMs);
      },
    },
  );

  const dir = mkdtempSync(join(tmpdir(), "kq-bench-"));
  const holder = spawn(process.execPath, ["-e", SESSION_HOLDER, String(SESSIONS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const ports = await new Promise<number[]>((resolve) => {
      createInterface({ input: holder.stdout }).once("line", (l) =>
        resolve(l.split(",").map(Number)),
      );
    });
    const store = new SqliteStore(join(dir, "kuota.db"));
    const names = Array.from({ length: ACCOUNTS }, (_, i) => `acct${i}`);
    await store.adoptAccounts(
      names.map((name) => ({ name, protocol: "ssh" as const })),
      new Date().toISOString(),
    );
    const nft = new Nft();
    let changedPerPoll = 0;
    const collector = new SshCollector({
      sshPorts: [22],
      authLog: [],
      pollMs: 1000,
      store,
      log,
      onUsage: (changed) => (changedPerPoll = changed.length),
      nft,
      sources: [],
      rebuildMs: rebuilds ? 10_000 : 3_600_000,
    });
    await collector.start();
    // map the simulated sessions as login lines would: two per account
    const script = ports.map((port, i) =>
      addSessionScript({ ip: "127.0.0.1", port }, names[i % ACCOUNTS] as string),
    );
    await nft.run(script.join(""));
    await sleep(2000);

    const start = cpuMs();
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const wallS = (performance.now() - t0) / 1000;
    const end = cpuMs();
    const { SshCountingTable } = await import("../../src/collect/ssh/ssh-table.js");
    const sessions = (await new SshCountingTable(nft, [22]).mappedSessions()).length;

    // one read and one rebuild on their own
    const reads = 20;
    const r0 = cpuMs();
    const w0 = performance.now();
    for (let i = 0; i < reads; i++) await collector.pollOnce();
    const readWall = (performance.now() - w0) / reads;
    const r1 = cpuMs();
    await collector.stop();
    console.log(`rebuilds (2,000 sockets): ${rebuildMs.slice(-3).join(", ")} ms wall each`);

    const self = (end.self - start.self) / wallS;
    const children = (end.children - start.children) / wallS;
    console.log(
      `${ACCOUNTS} accounts, ${SESSIONS} sessions (${sessions} mapped in nft at the end), 1 s reads, ` +
        `${rebuilds ? "10 s rebuilds" : "no rebuilds"}, ${wallS.toFixed(0)} s: worker ${self.toFixed(1)} ms CPU/s, ` +
        `nft+ss ${children.toFixed(1)} ms CPU/s, together ${((self + children) / 10).toFixed(2)} % of a core; ` +
        `${changedPerPoll} accounts changed per read`,
    );
    console.log(
      `one read (nft list + store transaction + onUsage): ${readWall.toFixed(1)} ms wall, ` +
        `${((r1.self - r0.self) / reads).toFixed(1)} ms worker CPU, ` +
        `${((r1.children - r0.children) / reads).toFixed(1)} ms nft CPU`,
    );
    await nft.run(`delete table ${TABLE}\n`);
    await store.close();
  } finally {
    holder.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env["KQ_BENCH_INSIDE"] !== "1") {
  // re-run inside a fresh namespace so nft, ss and the sockets are the bench's own
  const netns = `kq-${randomBytes(3).toString("hex")}-bench`;
  spawnSync("ip", ["netns", "add", netns]);
  try {
    spawnSync("ip", ["netns", "exec", netns, "ip", "link", "set", "lo", "up"]);
    const result = spawnSync(
      "ip",
      ["netns", "exec", netns, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
      { stdio: "inherit", env: { ...process.env, KQ_BENCH_INSIDE: "1" } },
    );
    process.exitCode = result.status ?? 1;
  } finally {
    spawnSync("ip", ["netns", "del", netns]);
  }
} else {
  await inside();
}
