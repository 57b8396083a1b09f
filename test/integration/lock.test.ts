/**
 * KUOTA_ON_LIMIT=lock against Debian's real v2ray 4.34: a VLESS account over its quota is cut
 * and locked (out of the engine and its config, kept in the store with a 'locked' event), an
 * unlock of an account still over its limit is locked again, and a top-up (`limit --reset`)
 * brings it back with the same UUID.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { makeAccount, startV2rayClient, startV2rayServer, type RigServer } from "../rig/v2ray.js";
import { startPayloadServer, type PayloadServer } from "../rig/payload-server.js";
import { curlDownload, startCurlDownload } from "../rig/curl.js";
import { WorkerSandbox } from "../rig/worker.js";
import { readXrayConfig, listAccounts } from "../../src/accounts/xray-config.js";
import type { AccountDetails, CreatedAccount, DeletionReport } from "../../src/control/api.js";

const MiB = 1024 * 1024;
const NAME = "lock-vl";

let server: RigServer;
let payload: PayloadServer;
let worker: WorkerSandbox;
let socksPort: number;

before(async () => {
  // The rig builds a VLESS inbound only around an account; this one is never limited.
  server = await startV2rayServer({
    accounts: [makeAccount("vless", "free-vl")],
    format: "commented",
  });
  payload = await startPayloadServer();
  worker = new WorkerSandbox({
    XRAY_API: `127.0.0.1:${server.apiPort}`,
    XRAY_CONFIG: server.v2ray.configPath,
    XRAY_ACCESS_LOG: server.v2ray.accessLog,
    KUOTA_PUBLIC_HOST: "127.0.0.1",
    KUOTA_POLL_MS: "1000",
    KUOTA_ON_LIMIT: "lock",
  });
  await worker.start();
  await worker.waitForLog(/"engine connected"/);
});

after(async () => {
  await worker?.stop();
});

type EventRow = { kind: string; account: string; used_bytes: number; reason: string };

function events(): EventRow[] {
  const db = new Database(worker.env.KUOTA_DB as string, { readonly: true });
  try {
    return db.prepare("SELECT * FROM events WHERE account = ? ORDER BY id").all(NAME) as EventRow[];
  } finally {
    db.close();
  }
}

async function waitForEvents(count: number): Promise<EventRow[]> {
  for (let i = 0; i < 100; i++) {
    const found = events();
    if (found.length >= count) return found;
    await sleep(100);
  }
  return events();
}

function inConfig(): boolean {
  const text = readFileSync(server.v2ray.configPath, "utf8");
  return listAccounts(readXrayConfig(text)).accounts.some((a) => a.name === NAME);
}

async function show(): Promise<AccountDetails> {
  const r = await worker.cli(["account", "show", NAME, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as AccountDetails;
}

test("a VLESS account over its 4 MiB quota is cut and locked, not deleted", async (t) => {
  const r = await worker.cli(["account", "add", "vless", NAME, "--limit", "4MiB", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const created = JSON.parse(r.stdout) as CreatedAccount;
  const client = await startV2rayClient(
    server,
    makeAccount("vless", NAME, { id: created.connection.secret }),
  );
  socksPort = client.socksPort;

  const result = await startCurlDownload(payload.bytesUrl(512 * MiB), { socksPort, maxTimeSec: 6 })
    .result;
  const received = result.figures?.downlinkBytes ?? 0;
  const [event] = await waitForEvents(1);
  t.diagnostic(`curl received ${received} B of 512 MiB; event: ${JSON.stringify(event)}`);
  assert.ok(received < 512 * MiB, `the download was cut (received ${received} B)`);
  assert.ok(event, "a 'locked' event was recorded");
  assert.equal(event.kind, "locked");
  assert.match(event.reason, /Bandwidth limit exceeded/);

  const account = await show();
  assert.equal(account.state, "locked", "the store marks it locked");
  assert.equal(account.present, true, "discovery does not mark a locked account absent");
  assert.ok(account.total_usage.total_bytes >= 4 * MiB, "its usage is kept");
  assert.equal(inConfig(), false, "its client left the engine config");
  const again = await startCurlDownload(payload.bytesUrl(MiB), { socksPort, maxTimeSec: 5 }).result;
  assert.notEqual(again.exitCode, 0, "its UUID no longer connects");
  assert.ok(
    worker.logLines.some((l) => /"user":"lock-vl"/.test(l) && /"msg":"account locked"/.test(l)),
    "a pino line `account locked` with the user",
  );
  const deleted = await worker.cli(["account", "show", NAME]);
  assert.equal(deleted.code, 0, "still in the store");
});

test("discovery after the lock neither unlocks it nor marks it absent", async () => {
  // Discovery reads the edited config within its interval; give it a round.
  await sleep(2500);
  const account = await show();
  assert.equal(account.state, "locked", "still locked");
  assert.equal(account.present, true, "still present");
});

test("an unlock while still over the limit is locked again by enforcement", async () => {
  const r = await worker.cli(["account", "unlock", NAME, "--json"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as DeletionReport;
  assert.ok(report.complete, `unlock complete: ${JSON.stringify(report.steps)}`);
  const found = await waitForEvents(2);
  assert.equal(found.length, 2, "a second 'locked' event");
  assert.equal((await show()).state, "locked", "locked again");
  assert.equal(inConfig(), false, "out of the config again");
});

test("a top-up (limit --reset) unlocks it and the same UUID connects again", async () => {
  const r = await worker.cli(["account", "limit", NAME, "100MiB", "--reset"]);
  assert.equal(r.code, 0, r.stderr);
  const account = await show();
  assert.equal(account.state, "active", "unlocked");
  assert.equal(account.total_usage.total_bytes < MiB, true, "usage reset");
  assert.equal(inConfig(), true, "back in the engine config");
  const download = await curlDownload(payload.bytesUrl(2 * MiB), { socksPort });
  // curl's figure counts the response headers too.
  assert.ok(download.downlinkBytes >= 2 * MiB, "its UUID connects and downloads again");
  await sleep(1500);
  assert.equal(events().length, 2, "not locked again within its new limit");
});

test("unlocking an account that is not locked is refused", async () => {
  const r = await worker.cli(["account", "unlock", NAME]);
  assert.notEqual(r.code, 0, "refused");
  assert.match(r.stderr + r.stdout, /not locked/);
});

test("an account locked at its expiry date is unlocked by a renewal, same UUID", async () => {
  // The expiry comes 2 s from now (dates given to `renew` are whole days, so the store is set
  // directly); any account change makes the enforcer re-read.
  const db = new Database(worker.env.KUOTA_DB as string);
  db.prepare("UPDATE accounts SET expires_at = ? WHERE name = ?").run(
    new Date(Date.now() + 2000).toISOString(),
    NAME,
  );
  db.close();
  assert.equal((await worker.cli(["account", "limit", NAME, "100MiB"])).code, 0);
  const found = await waitForEvents(3);
  assert.equal(
    found.length,
    3,
    `a third 'locked' event; the worker's enforcement said:\n${worker.logLines
      .filter((l) => l.includes('"component":"enforce"'))
      .slice(-12)
      .join("\n")}`,
  );
  assert.match(found[2]?.reason ?? "", /^Expired on /);
  assert.equal((await show()).state, "locked");
  assert.equal(inConfig(), false, "out of the config");

  const r = await worker.cli(["account", "renew", NAME, "--days", "30", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const view = JSON.parse(r.stdout) as AccountDetails;
  assert.equal(view.state, "active", "unlocked by the renewal");
  assert.ok(view.expires_at && Date.parse(view.expires_at) > Date.now() + 29 * 86_400_000);
  assert.equal(inConfig(), true, "back in the engine config");
  const download = await curlDownload(payload.bytesUrl(MiB), { socksPort });
  assert.ok(download.downlinkBytes >= MiB, "its UUID connects again");
  await sleep(1500);
  assert.equal(events().length, 3, "not locked again");
});
