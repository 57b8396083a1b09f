/**
 * Cost of one read of SSH counters (`nft -j list counters table inet kuota`), with 1,000 and
 * 2,000 counters (500 and 1,000 accounts) and one mapped session per account, in a throw-away
 * network namespace. Prints wall time and the CPU nft and the worker spent, per read.
 *
 *   node --import tsx bench/ssh/counter-read.ts [reads=50]
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { Nft } from "../../src/collect/ssh/nft.js";
import { SshCountingTable } from "../../src/collect/ssh/ssh-table.js";
import {
  TABLE,
  addSessionScript,
  type AccountCounters,
} from "../../src/collect/ssh/nft-ruleset.js";

const reads = Number(process.argv[2] ?? 50);
const netns = `kq-${randomBytes(3).toString("hex")}-bench`;
const TICK_MS = 10; // USER_HZ is 100 on Linux

/** CPU ms of this process and of its waited-for children, from /proc/self/stat. */
function cpuMs(): { self: number; children: number } {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  const tick = (i: number): number => Number(fields[i - 3]) * TICK_MS;
  return { self: tick(14) + tick(15), children: tick(16) + tick(17) };
}

async function run(accounts: number): Promise<void> {
  const nft = new Nft({ netns });
  await nft.run(`add table ${TABLE}\ndelete table ${TABLE}\n`);
  const table = new SshCountingTable(nft, [22, 109, 143]);
  const stored = new Map<string, AccountCounters>();
  for (let i = 0; i < accounts; i++) {
    stored.set(`acct${i}`, {
      up: { packets: i, bytes: i * 1000 },
      dn: { packets: i, bytes: i * 2000 },
    });
  }
  await table.ensure(stored);
  const sessions = [...stored.keys()].map((user, i) =>
    addSessionScript({ ip: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 10_000 + i }, user),
  );
  await nft.run(sessions.join(""));

  await table.readUsage();
  const start = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < reads; i++) await table.readUsage();
  const wall = (performance.now() - t0) / reads;
  const end = cpuMs();
  const nftCpu = (end.children - start.children) / reads;
  const workerCpu = (end.self - start.self) / reads;
  console.log(
    `${accounts * 2} counters, ${accounts} mapped sessions: ${wall.toFixed(1)} ms wall, ` +
      `${nftCpu.toFixed(1)} ms nft CPU, ${workerCpu.toFixed(1)} ms worker CPU per read (${reads} reads)`,
  );
}

spawnSync("ip", ["netns", "add", netns]);
process.on("exit", () => spawnSync("ip", ["netns", "del", netns]));
try {
  await run(500);
  await run(1000);
} finally {
  spawnSync("ip", ["netns", "del", netns]);
}
