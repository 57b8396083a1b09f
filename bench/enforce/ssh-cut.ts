/**
 * SSH cut latency and overshoot at several rates: the real worker in a rig's server namespace,
 * an account with a 20 MiB limit per run, a download through `ssh -D` (OpenSSH) or `dbclient -L`
 * (Dropbear) from a web server pacing at the source (so the client's figure is what crossed).
 * Needs root, sshd, dropbear, curl, tcpdump; builds nothing: run `npm run build` first.
 *
 *   node --import tsx bench/enforce/ssh-cut.ts [ROW...]
 *
 * ROW is `DAEMON:RATE` (daemon `openssh` or `dropbear`, rate in MiB/s, 0 for unpaced), e.g.
 * `dropbear:1`; without rows every daemon runs at 1, 10, 50 MiB/s and unpaced.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createNetRig } from "../../test/rig/netns.js";
import {
  startDbclientForward,
  startDropbear,
  startSshSocks,
  startSshd,
  startWebServer,
} from "../../test/rig/ssh-servers.js";
import { WorkerSandbox } from "../../test/rig/worker.js";
import { Nft } from "../../src/collect/ssh/nft.js";
import { SshCountingTable } from "../../src/collect/ssh/ssh-table.js";

const MiB = 1024 * 1024;
const LIMIT = 20 * MiB;
/** Source rates (bytes/s); 0: as fast as the rig carries. */
const RATES = [1 * MiB, 10 * MiB, 50 * MiB, 0];
const DAEMONS = ["openssh", "dropbear"] as const;
const ROWS = process.argv.slice(2).map((arg) => {
  const [daemon, rate] = arg.split(":");
  const known = DAEMONS.find((d) => d === daemon);
  if (!known || rate === undefined || !/^\d+$/.test(rate)) throw new TypeError(`not a row: ${arg}`);
  return { daemon: known, rate: Number(rate) * MiB };
});
const runs =
  ROWS.length > 0 ? ROWS : DAEMONS.flatMap((daemon) => RATES.map((rate) => ({ daemon, rate })));

const shells = readFileSync("/etc/shells", "utf8");
const names: string[] = [];
const rig = await createNetRig({ offloads: true });
try {
  if (!shells.split("\n").includes("/bin/false"))
    writeFileSync("/etc/shells", `${shells}/bin/false\n`);
  const sshd = await startSshd(rig, { port: 22 });
  const dropbear = await startDropbear(rig, { port: 109 });
  const web = await startWebServer(rig);
  const paced = join(rig.dir, "paced.mjs");
  writeFileSync(
    paced,
    `import http from "node:http";
import { randomFillSync } from "node:crypto";
// Random and never repeated within zlib's 32 KiB window: dbclient negotiates compression, and
// a compressible body would cross the SSH leg (where the quota counts) ~100x smaller.
const block = randomFillSync(Buffer.alloc(65536));
http.createServer((req, res) => {
  const u = new URL(req.url, "http://x");
  let left = Number(u.searchParams.get("n"));
  let at = 0;
  const perTick = Math.max(1, Math.round(Number(u.searchParams.get("rate")) / 100));
  res.writeHead(200, { "content-length": String(left) });
  const t = setInterval(() => {
    let b = Math.min(perTick, left); left -= b;
    while (b > 0) {
      const n = Math.min(b, block.length - at);
      res.write(block.subarray(at, at + n)); b -= n; at = (at + n) % block.length;
    }
    if (left === 0) { clearInterval(t); res.end(); }
  }, 10);
  res.on("close", () => clearInterval(t));
}).listen(8001, process.argv[2]);
`,
  );
  rig.spawn("web", process.execPath, [paced, rig.addr.web]);
  const table = new SshCountingTable(new Nft({ netns: rig.ns.server }), [22, 109]);
  const worker = new WorkerSandbox({
    KUOTA_PASSWD_FILE: "/etc/passwd",
    SSH_ACCOUNTING: "true",
    SSH_PORTS: "22,109",
    SSH_AUTH_LOG: `${sshd.logFile},${dropbear.logFile}`,
    KUOTA_POLL_MS: "1000",
  });
  await worker.start({}, { netns: rig.ns.server });
  await worker.waitForLog(/"SSH accounting started"/);
  const time = (re: RegExp) => {
    const line = worker.logLines.find((l) => re.test(l));
    return line ? Date.parse(String((JSON.parse(line) as { time: string | number }).time)) : NaN;
  };
  const rows: string[] = [];
  let port = 1200;
  for (const { daemon, rate } of runs) {
    const name = `kqt${randomBytes(4).toString("hex")}`;
    names.push(name);
    const password = `pw-${randomBytes(6).toString("hex")}`;
    const add = await worker.cli([
      "account",
      "add",
      "ssh",
      name,
      "--password",
      password,
      "--limit",
      "20MiB",
    ]);
    if (add.code !== 0) throw new Error(add.stderr);
    const local = port++;
    const host = rig.addr.serverForClient;
    const client =
      daemon === "openssh"
        ? await startSshSocks(rig, { user: name, password, host, port: 22, socksPort: local })
        : await startDbclientForward(rig, {
            user: name,
            password,
            host,
            port: 109,
            localPort: local,
            targetHost: rig.addr.web,
            targetPort: rate === 0 ? web.port : 8001,
          });
    for (let i = 0; i < 200 && !(await table.quotaSessions()).some((s) => s.user === name); i++)
      await sleep(25);
    const n = 400 * MiB;
    const path = rate === 0 ? `/bytes?n=${n}` : `/slow?n=${n}&rate=${rate}`;
    const args = [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{size_download} %{speed_download}",
      "--max-time",
      "120",
    ];
    if (daemon === "openssh") {
      const origin = rate === 0 ? web.url("") : `http://${rig.addr.web}:8001`;
      args.push("--socks5-hostname", `127.0.0.1:${local}`, `${origin}${path}`);
    } else args.push(`http://127.0.0.1:${local}${path}`);
    const r = await rig.exec("client", "curl", args, { reject: false, timeout: 180_000 });
    const ended = Date.now();
    await sleep(1000);
    const [received, speed] = String(r.stdout).trim().split(" ").map(Number) as [number, number];
    const ranOut = time(new RegExp(`"user":"${name}".*kernel quota ran out`));
    const deleted = time(new RegExp(`"user":"${name}".*"account deleted"`));
    const over = received - LIMIT;
    const bps = rate === 0 ? speed : rate;
    rows.push(
      `| ${daemon} | ${rate === 0 ? `unpaced (${(speed / MiB).toFixed(0)} MiB/s)` : `${rate / MiB} MiB/s`} | ` +
        `${received} | ${over} | ${((over / bps) * 1000).toFixed(1)} | ${deleted - ranOut} | ${ended - ranOut} |`,
    );
    console.log(rows.at(-1));
    await client.stop().catch(() => undefined);
  }
  await worker.stop();
  await table.nft.run("delete table inet kuota\n").catch(() => undefined);
  console.log(
    "| daemon | rate | curl received (B) | vs 20 MiB (B) | as ms of transfer | quota out → deleted (ms) | quota out → curl ended (ms) |",
  );
  for (const row of rows) console.log(row);
} finally {
  writeFileSync("/etc/shells", shells);
  for (const name of names)
    if (spawnSync("id", ["-u", name]).status === 0) spawnSync("userdel", ["-f", "-r", name]);
  await rig.cleanup();
}
