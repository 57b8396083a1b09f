/**
 * Issue 5's acceptance for Xray accounts against Debian's real v2ray 4.34: an account
 * with a limit is cut by the headroom-scheduled fast polls; unlimited accounts never are;
 * raising a limit in time saves an account; an account removed by hand causes no loop.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { makeAccount, startV2rayClient, startV2rayServer, type RigServer } from "../rig/v2ray.js";
import { startPayloadServer, type PayloadServer } from "../rig/payload-server.js";
import { curlDownload, startCurlDownload } from "../rig/curl.js";
import { WorkerSandbox } from "../rig/worker.js";
import { readXrayConfig, listAccounts } from "../../src/accounts/xray-config.js";
import { removeClient } from "../../src/accounts/config-edit.js";
import type { CreatedAccount } from "../../src/control/api.js";
import { ControlClient } from "../../src/control/client.js";

const MiB = 1024 * 1024;
const keep = makeAccount("vless", "free-vl");
/** An account sellers made by hand, its email capitalised: kuota adopts it as "cap-vl". */
const capitalised = makeAccount("vless", "Cap-VL");

let server: RigServer;
let payload: PayloadServer;
let worker: WorkerSandbox;

before(async () => {
  server = await startV2rayServer({ accounts: [keep, capitalised], format: "commented" });
  payload = await startPayloadServer();
  worker = new WorkerSandbox({
    XRAY_API: `127.0.0.1:${server.apiPort}`,
    XRAY_CONFIG: server.v2ray.configPath,
    XRAY_ACCESS_LOG: server.v2ray.accessLog,
    KUOTA_PUBLIC_HOST: "127.0.0.1",
    KUOTA_POLL_MS: "1000",
  });
  await worker.start();
  await worker.waitForLog(/"engine connected"/);
});

after(async () => {
  await worker?.stop();
});

/** Creates a VLESS account through the CLI and a real client for it. */
async function vlessAccount(name: string, limit: string) {
  const r = await worker.cli(["account", "add", "vless", name, "--limit", limit, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const created = JSON.parse(r.stdout) as CreatedAccount;
  const client = await startV2rayClient(
    server,
    makeAccount("vless", name, { id: created.connection.secret }),
  );
  return { created, socksPort: client.socksPort };
}

function events(): { account: string; used_bytes: number; limit_bytes: number; reason: string }[] {
  const db = new Database(worker.env.KUOTA_DB as string, { readonly: true });
  try {
    return db.prepare("SELECT * FROM events ORDER BY id").all() as ReturnType<typeof events>;
  } finally {
    db.close();
  }
}

function configAccounts(): string[] {
  const text = readFileSync(server.v2ray.configPath, "utf8");
  return listAccounts(readXrayConfig(text)).accounts.map((a) => a.name);
}

/**
 * The 20 ms target is a speed figure, measured by bench/enforce/xray-cut.ts over
 * many runs (results in bench/enforce/RESULTS.md); this test holds the behaviour and a bound
 * ten times wider, so a regression shows while a busy CI machine does not.
 */
const OVERSHOOT_BOUND_MS = 200;

test("a VLESS account downloading as fast as loopback allows is cut at its quota", async (t) => {
  const limit = 20 * MiB;
  // The rate this rig carries, measured on an unlimited account through the same engine.
  const free = await startV2rayClient(server, keep);
  const t0 = performance.now();
  const sample = await curlDownload(payload.bytesUrl(256 * MiB), { socksPort: free.socksPort });
  const rate = sample.downlinkBytes / ((performance.now() - t0) / 1000);

  const { socksPort } = await vlessAccount("cut-vl", "20MiB");
  const sentBefore = payload.bytesSent();
  // The v2ray client keeps its side open after the server cuts: curl ends on --max-time.
  const result = await startCurlDownload(payload.bytesUrl(2048 * MiB), { socksPort, maxTimeSec: 6 })
    .result;
  const received = result.figures?.downlinkBytes ?? 0;
  const sent = payload.bytesSent() - sentBefore;
  // The event follows the full delete (config edit and validation), after the cut itself.
  let event = events().find((e) => e.account === "cut-vl");
  for (let i = 0; i < 50 && !event; i++) {
    await sleep(100);
    event = events().find((e) => e.account === "cut-vl");
  }
  assert.ok(event, `a deletion event was recorded (curl: ${result.stderr.trim()})`);
  const overshoot = received - limit;
  const overshootMs = (overshoot / rate) * 1000;
  const log = readFileSync(join(worker.dataDir, "deleted.log"), "utf8");
  t.diagnostic(
    `rate ${(rate / MiB).toFixed(0)} MiB/s; limit ${limit} B; counted at the cut ` +
      `${event.used_bytes} B; curl received ${received} B (server sent ${sent} B); ` +
      `overshoot ${overshoot} B = ${overshootMs.toFixed(1)} ms of transfer`,
  );
  t.diagnostic(`deleted.log: ${log.trim()}`);
  for (const line of worker.logLines.filter((l) => /over quota|hot accounts|cut-vl/.test(l))) {
    t.diagnostic(line.slice(0, 400));
  }
  assert.ok(received < 2048 * MiB, "the download was cut, not completed");
  assert.ok(overshootMs <= OVERSHOOT_BOUND_MS, `overshoot ${overshootMs.toFixed(1)} ms`);
  assert.match(event.reason, /Bandwidth limit exceeded/);
  // Gone from the config and the engine: a new connection with its UUID fails.
  assert.equal(configAccounts().includes("cut-vl"), false, "removed from the config");
  const again = await startCurlDownload(payload.bytesUrl(MiB), { socksPort, maxTimeSec: 5 }).result;
  assert.notEqual(again.exitCode, 0, "its UUID no longer connects");
  assert.match(
    log,
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| VLESS \| cut-vl \| .*Bandwidth limit exceeded/m,
  );
});

test("an account without a limit is never cut, whatever it uses", async () => {
  const { socksPort } = await startV2rayClient(server, keep);
  for (let i = 0; i < 3; i++) await curlDownload(payload.bytesUrl(40 * MiB), { socksPort });
  await sleep(1500);
  assert.ok(configAccounts().includes(keep.email), "still in the config");
  assert.equal(events().filter((e) => e.account === keep.email).length, 0, "no event");
  const r = await worker.cli(["usage", keep.email, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).total_usage.download_bytes > 120 * MiB, "usage counted");
});

test("raising the limit of an account close to it prevents the cut", async () => {
  const { socksPort } = await vlessAccount("raise-vl", "20MiB");
  // A customer at 16 MiB/s stops 5 MiB short of the limit. (At hundreds of MiB/s, stopping
  // within rate × cut latency of the limit looks like crossing it: see enforcer.ts.)
  await curlDownload(payload.bytesUrl(15 * MiB, { rate: 16 * MiB }), { socksPort });
  const r = await worker.cli(["account", "limit", "raise-vl", "100MiB"]);
  assert.equal(r.code, 0, r.stderr);
  await curlDownload(payload.bytesUrl(10 * MiB), { socksPort });
  await sleep(1500);
  assert.ok(configAccounts().includes("raise-vl"), "still in the config");
  assert.equal(events().filter((e) => e.account === "raise-vl").length, 0, "no event");
});

test("an account removed by hand while the worker runs causes no error loop", async () => {
  const { socksPort } = await vlessAccount("hand-vl", "4MiB");
  await curlDownload(payload.bytesUrl(MiB), { socksPort });
  // The seller removes the client from the config by hand (and the engine keeps it live).
  const path = server.v2ray.configPath;
  writeFileSync(path, removeClient(readFileSync(path, "utf8"), "hand-vl").text);
  await sleep(1500);
  const before = worker.logLines.length;
  // Now it goes over its limit through the still-open engine user.
  await startCurlDownload(payload.bytesUrl(8 * MiB), { socksPort, maxTimeSec: 10 }).result;
  await sleep(4000);
  const about = worker.logLines.slice(before).filter((l) => l.includes("hand-vl"));
  assert.ok(about.length <= 6, `${about.length} log lines about hand-vl:\n${about.join("\n")}`);
  const status = await worker.cli(["usage", "--json"]);
  assert.equal(status.code, 0, "the worker still answers");
});

test("an account reaching its expiry date is deleted then, with the reason Expired", async () => {
  const { socksPort } = await vlessAccount("exp-vl", "1GiB");
  await curlDownload(payload.bytesUrl(MiB), { socksPort });
  // The seller's validity runs out 3 s from now; any account change makes the enforcer re-read.
  const expiresAt = new Date(Date.now() + 3000).toISOString();
  const db = new Database(worker.env.KUOTA_DB as string);
  db.prepare("UPDATE accounts SET expires_at = ? WHERE name = ?").run(expiresAt, "exp-vl");
  db.close();
  assert.equal((await worker.cli(["account", "limit", "exp-vl", "1GiB"])).code, 0);
  await sleep(1000);
  assert.ok(configAccounts().includes("exp-vl"), "not cut before its date");
  let event = events().find((e) => e.account === "exp-vl");
  for (let i = 0; i < 80 && !event; i++) {
    await sleep(100);
    event = events().find((e) => e.account === "exp-vl");
  }
  assert.ok(
    event,
    `a deletion event was recorded; enforcement logged:\n${worker.logLines
      .filter((l) => l.includes('"component":"enforce"'))
      .slice(-15)
      .join("\n")}`,
  );
  assert.match(event.reason, /^Expired on /);
  assert.equal(configAccounts().includes("exp-vl"), false, "removed from the config");
  const log = readFileSync(join(worker.dataDir, "deleted.log"), "utf8");
  assert.match(log, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| VLESS \| exp-vl \| reason: Expired on /m);
  const again = await startCurlDownload(payload.bytesUrl(MiB), { socksPort, maxTimeSec: 5 }).result;
  assert.notEqual(again.exitCode, 0, "its UUID no longer connects");
});

test("`kuota check` runs one pass and says what it did", async () => {
  const r = await worker.cli(["check", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { polled: string[]; actions: unknown[] };
  assert.deepEqual(out.polled, ["xray"]);
  assert.ok(Array.isArray(out.actions), "actions listed");
});

test("a hot account whose email has capitals is read on its own at the fast pace too", async (t) => {
  // 100 MiB left is within one regular poll at KUOTA_LINK_MBPS: the account is hot at once.
  const r = await worker.cli(["account", "limit", "cap-vl", "100MiB"]);
  assert.equal(r.code, 0, r.stderr);
  const client = await startV2rayClient(server, capitalised);
  const download = startCurlDownload(payload.bytesUrl(30 * MiB, { rate: 10 * MiB }), {
    socksPort: client.socksPort,
    maxTimeSec: 10,
  });
  // Fast polls store its usage every ~10 ms; the regular poll alone would move it once a second.
  await sleep(500);
  const api = new ControlClient(worker.env.KUOTA_SOCKET as string);
  const seen = new Set<number>();
  const until = Date.now() + 2000;
  while (Date.now() < until) {
    const view = await api.get<{ total_usage: { total_bytes: number } }>("/v1/usage/cap-vl");
    seen.add(view.total_usage.total_bytes);
    await sleep(100);
  }
  const result = await download.result;
  t.diagnostic(`${seen.size} distinct stored totals in 2 s; curl exit ${result.exitCode}`);
  assert.equal(result.exitCode, 0, "the download completed within its limit");
  assert.ok(seen.size >= 8, `usage stored at the fast pace (${seen.size} distinct totals in 2 s)`);
});
