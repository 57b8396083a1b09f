/**
 * Issue 4's acceptance for SSH accounts with real users, real sshd and dropbear in a server
 * namespace (where the worker runs too, as on a seller's host), real ssh/dbclient tunnels and curl.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { createNetRig, type NetRig } from "../rig/netns.js";
import {
  curl,
  startDbclientForward,
  startDropbear,
  startSshSocks,
  startSshd,
  startWebServer,
  waitForLogLine,
  type RunningDaemon,
} from "../rig/ssh-servers.js";
import { WorkerSandbox } from "../rig/worker.js";
import { ControlClient } from "../../src/control/client.js";
import { parseLoginLine } from "../../src/collect/ssh/login-line.js";
import { Nft } from "../../src/collect/ssh/nft.js";
import { SshCountingTable } from "../../src/collect/ssh/ssh-table.js";
import { TABLE } from "../../src/collect/ssh/nft-ruleset.js";
import type { CreatedAccount, DeletionReport } from "../../src/control/api.js";

const MiB = 1024 * 1024;
const SHELLS = "/etc/shells";
const shellsBefore = readFileSync(SHELLS, "utf8");
/** Accounts this file asks kuota to create; removed at the end if a test left them. */
const names = new Set<string>();
const cronFile = `/etc/cron.d/kuota-test-${randomBytes(3).toString("hex")}`;

function restoreSystem(): void {
  writeFileSync(SHELLS, shellsBefore);
  rmSync(cronFile, { force: true });
  for (const name of names) {
    if (spawnSync("id", ["-u", name]).status === 0) spawnSync("userdel", ["-f", "-r", name]);
    spawnSync("crontab", ["-r", "-u", name]);
  }
}
// root-level: registered at import, so they run after the last test (or at exit)
after(restoreSystem);
process.on("exit", restoreSystem);

let rig: NetRig;

let dropbear: RunningDaemon;
let web: Awaited<ReturnType<typeof startWebServer>>;
let worker: WorkerSandbox;
let socket: ControlClient;
let table: SshCountingTable;
let slowUrl: (bytes: number, rate: number) => string;

before(async () => {
  // Sellers' autoscripts list /bin/false in /etc/shells: Dropbear refuses shells missing there.
  if (!shellsBefore.split("\n").includes("/bin/false")) {
    writeFileSync(SHELLS, `${shellsBefore.replace(/\n?$/, "\n")}/bin/false\n`);
  }
  rig = await createNetRig({ offloads: true });
  await startSshd(rig, { port: 22 });
  dropbear = await startDropbear(rig, { port: 109 });
  web = await startWebServer(rig);
  slowUrl = await startPacedServer(rig);
  table = new SshCountingTable(new Nft({ netns: rig.ns.server }), [22, 109]);
  await table.ensure();
  worker = new WorkerSandbox({
    KUOTA_PASSWD_FILE: "/etc/passwd",
    SSH_PORTS: "22,109",
    KUOTA_PUBLIC_HOST: rig.addr.serverForClient,
  });
  await worker.start({}, { netns: rig.ns.server });
  socket = new ControlClient(worker.env["KUOTA_SOCKET"] as string);
});

after(async () => {
  await worker?.stop();
  await table?.nft.run(`delete table ${TABLE}\n`).catch(() => undefined);
});

/**
 * A web server in the web namespace whose answers are paced at the source (`/slow?n=N&rate=R`),
 * so that a cut tunnel leaves nothing buffered on the client side: curl ends when the tunnel does.
 * (Pacing with curl's --limit-rate would leave megabytes in the client's socket buffers, which
 * drain at that rate after the server is gone.)
 */
async function startPacedServer(netRig: NetRig): Promise<(bytes: number, rate: number) => string> {
  const script = join(netRig.dir, "paced-server.mjs");
  writeFileSync(
    script,
    `import http from "node:http";
const block = Buffer.alloc(16384, 7);
http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  let left = Number(url.searchParams.get("n"));
  const perTick = Math.max(1, Math.round(Number(url.searchParams.get("rate")) / 100));
  res.writeHead(200, { "content-length": String(left) });
  const timer = setInterval(() => {
    let budget = Math.min(perTick, left);
    left -= budget;
    while (budget > 0) { const n = Math.min(budget, block.length); res.write(block.subarray(0, n)); budget -= n; }
    if (left === 0) { clearInterval(timer); res.end(); }
  }, 10);
  res.on("close", () => clearInterval(timer));
}).listen(8001, process.argv[2]);
`,
  );
  netRig.spawn("web", process.execPath, [script, netRig.addr.web]);
  for (let i = 0; i < 200; i++) {
    const { stdout } = await netRig.exec("web", "ss", ["-ltnH", "sport = :8001"]);
    if (String(stdout).trim() !== "") break;
    await sleep(25);
  }
  return (bytes, rate) => `http://${netRig.addr.web}:8001/slow?n=${bytes}&rate=${rate}`;
}

/** A name the rig's daemons accept (`AllowUsers kqt*`). */
function newName(): string {
  const name = `kqt${randomBytes(4).toString("hex")}`;
  names.add(name);
  return name;
}

async function createSsh(name: string, password: string): Promise<CreatedAccount> {
  const result = await worker.cli([
    "account",
    "add",
    "ssh",
    name,
    "--password",
    password,
    "--limit",
    "5GB",
    "--days",
    "30",
    "--json",
  ]);
  assert.equal(result.code, 0, `kuota account add ssh: ${result.stderr}`);
  return JSON.parse(result.stdout) as CreatedAccount;
}

/** Maps the Dropbear session of `name` in nft, as SSH accounting does from its login line. */
async function mapDropbearSession(name: string, fromOffset: number): Promise<void> {
  const { line } = await waitForLogLine(dropbear.logFile, (l) => parseLoginLine(l)?.user === name, {
    fromOffset,
  });
  const login = parseLoginLine(line);
  assert.ok(login, "dropbear login line");
  await table.mapSession({ ip: login.ip, port: login.port }, name);
}

test("an SSH account made by the CLI logs in through OpenSSH and Dropbear and tunnels traffic", async () => {
  const name = newName();
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const answer = await createSsh(name, password);
  assert.equal(answer.connection.secret, password, "the password is shown once");
  assert.deepEqual(answer.notes, [], "no notes");
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  assert.ok(entry, "a Linux user");
  const [, , uid, , , home, shell] = entry.split(":");
  assert.ok(Number(uid) >= 1000, `uid ${uid}`);
  assert.equal(shell, "/bin/false", "no login shell");
  assert.ok(home && existsSync(home), "a home");
  const { stdout: chage } = await execa("chage", ["-l", name], { env: { LC_ALL: "C" } });
  assert.doesNotMatch(chage, /Account expires\s*:\s*never/, "an expiry date");

  const host = rig.addr.serverForClient;
  const socks = await startSshSocks(rig, { user: name, password, host, port: 22, socksPort: 1081 });
  const viaOpenssh = await curl(rig, {
    url: web.url(`/bytes?n=${4 * MiB}`),
    socks: `127.0.0.1:${socks.localPort}`,
  });
  assert.equal(viaOpenssh.downloaded, 4 * MiB, "through OpenSSH");
  await socks.stop();
  const forward = await startDbclientForward(rig, {
    user: name,
    password,
    host,
    port: 109,
    localPort: 8081,
    targetHost: rig.addr.web,
    targetPort: web.port,
  });
  const viaDropbear = await curl(rig, {
    url: `http://127.0.0.1:${forward.localPort}/bytes?n=${4 * MiB}`,
  });
  assert.equal(viaDropbear.downloaded, 4 * MiB, "through Dropbear");
  await forward.stop();
});

/** The "Account expires" line of `chage -l` (LC_ALL=C: "Jan 03, 2027" or "never"). */
async function linuxExpiry(name: string): Promise<string> {
  const { stdout } = await execa("chage", ["-l", name], { env: { LC_ALL: "C" } });
  return /Account expires\s*:\s*(.+)/.exec(stdout)?.[1]?.trim() ?? `(no line in ${stdout})`;
}

function chageDate(instant: string): string {
  const d = new Date(instant);
  return d.toLocaleDateString("en-US", { month: "short", day: "2-digit", year: "numeric" });
}

test("renewing an SSH account moves its Linux expiry too: one whose date passed logs in again", async () => {
  const name = newName();
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const created = (await createSsh(name, password)).account;
  assert.ok(created.expires_at, "created with an expiry");
  // The Linux date ran out (as if the worker had been down on the day): sshd refuses the login.
  await execa("chage", ["-E", "2020-01-01", "--", name]);
  const renewed = await worker.cli(["account", "renew", name, "--days", "10", "--json"]);
  assert.equal(renewed.code, 0, renewed.stderr);
  const view = JSON.parse(renewed.stdout) as CreatedAccount["account"];
  const expected = new Date(created.expires_at);
  expected.setDate(expected.getDate() + 10);
  assert.equal(view.expires_at, expected.toISOString(), "10 days added to the stored expiry");
  assert.equal(await linuxExpiry(name), chageDate(expected.toISOString()), "chage -E followed");
  const socks = await startSshSocks(rig, {
    user: name,
    password,
    host: rig.addr.serverForClient,
    port: 22,
    socksPort: 1083,
  });
  const through = await curl(rig, {
    url: web.url(`/bytes?n=${MiB}`),
    socks: `127.0.0.1:${socks.localPort}`,
  });
  assert.equal(through.downloaded, MiB, "the renewed account tunnels again");
  await socks.stop();

  const past = await worker.cli(["account", "renew", name, "--expires", "2020-01-01"]);
  assert.equal(past.code, 2, "a date already gone is refused as a bad request");
  assert.match(past.stderr, /not after today/);
  assert.equal(await linuxExpiry(name), chageDate(expected.toISOString()), "nothing changed");

  const never = await worker.cli(["account", "renew", name, "--expires", "never", "--json"]);
  assert.equal(never.code, 0, never.stderr);
  assert.equal((JSON.parse(never.stdout) as { expires_at: string | null }).expires_at, null);
  assert.equal(await linuxExpiry(name), "never");
});

test("deleting an SSH account mid-download ends its OpenSSH and Dropbear tunnels within 1 s and removes it everywhere", async (t) => {
  const name = newName();
  const password = `pw-${randomBytes(6).toString("hex")}`;
  await createSsh(name, password);
  const home = `/home/${name}`;
  mkdirSync(join(home, ".ssh"), { recursive: true });
  writeFileSync(join(home, ".ssh", "authorized_keys"), "ssh-ed25519 AAAA test\n");
  await execa("crontab", ["-u", name, "-"], { input: "0 0 * * * /usr/bin/true\n" });
  const otherLines = [
    "# kuota test",
    "SHELL=/bin/sh",
    "0 0 * * * root /usr/bin/true " + name,
    "0 1 * * * nobody /usr/bin/true",
  ];
  writeFileSync(
    cronFile,
    [
      otherLines[0],
      otherLines[1],
      `0 0 * * * ${name} /usr/bin/true`,
      otherLines[2],
      `@reboot ${name} /usr/bin/true`,
      otherLines[3],
      "",
    ].join("\n"),
  );

  const host = rig.addr.serverForClient;
  const socks = await startSshSocks(rig, { user: name, password, host, port: 22, socksPort: 1082 });
  const dropbearOffset = readFileSync(dropbear.logFile).length;
  const forward = await startDbclientForward(rig, {
    user: name,
    password,
    host,
    port: 109,
    localPort: 8082,
    targetHost: rig.addr.web,
    targetPort: 8001,
  });
  await mapDropbearSession(name, dropbearOffset);
  const paced = slowUrl(1024 * MiB, 2 * MiB);
  const downloads = [
    [
      "openssh",
      ["-sS", "-o", "/dev/null", "--socks5-hostname", `127.0.0.1:${socks.localPort}`, paced],
    ],
    [
      "dropbear",
      [
        "-sS",
        "-o",
        "/dev/null",
        paced.replace(`${rig.addr.web}:8001`, `127.0.0.1:${forward.localPort}`),
      ],
    ],
  ] as const;
  const ended = downloads.map(([daemon, args]) => {
    const run = rig.spawn("client", "curl", args);
    return { daemon, run, at: run.then(() => performance.now()) };
  });
  await sleep(1500); // both transfers running

  const t0 = performance.now();
  const report = await socket.request<DeletionReport>("DELETE", `/v1/accounts/${name}`, {
    reason: "acceptance test",
  });
  t.diagnostic(`delete answered after ${(performance.now() - t0).toFixed(0)} ms`);
  t.diagnostic(`steps: ${report.steps.map((s) => `${s.step}=${s.detail}`).join(" | ")}`);
  for (const e of ended) {
    const after = (await e.at) - t0;
    const result = await e.run;
    t.diagnostic(
      `${e.daemon} download ended ${after.toFixed(0)} ms after the delete (curl exit ${result.exitCode})`,
    );
    assert.notEqual(result.exitCode, 0, `${e.daemon} download was cut, not finished`);
    assert.ok(after < 1000, `${e.daemon} download ended ${after.toFixed(0)} ms after the delete`);
  }
  assert.equal(report.complete, true, JSON.stringify(report.steps));
  await socks.process;
  await forward.process;

  assert.equal(existsSync(home), false, "home and ~/.ssh are gone");
  assert.doesNotMatch(
    readFileSync("/etc/passwd", "utf8"),
    new RegExp(`^${name}:`, "m"),
    "no Linux user",
  );
  assert.equal(existsSync(`/var/spool/cron/crontabs/${name}`), false, "crontab gone");
  assert.equal(
    readFileSync(cronFile, "utf8"),
    [...otherLines, ""].join("\n"),
    "only its cron.d lines went",
  );
  assert.deepEqual(
    (await table.mappedSessions()).filter((s) => s.user === name),
    [],
    "nft entries gone",
  );
  const deleted = readFileSync(join(worker.dataDir, "deleted.log"), "utf8");
  assert.match(
    deleted,
    new RegExp(
      `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\| SSH \\| ${name} \\| reason: acceptance test; `,
      "m",
    ),
    "deleted.log line",
  );
  assert.equal(existsSync(worker.usageFile(name)), false, "usage file gone");
  const again = await worker.cli(["account", "delete", name]);
  assert.notEqual(again.code, 0, "a second delete finds nothing to delete");
});
