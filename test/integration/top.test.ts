// `kuota top` in a real terminal: a worker counting 20 v2ray accounts that move traffic through
// rate-limited curl downloads, and `kuota top` running in a tmux pane of 80x24. Two captures of
// the pane show the table with moving rates; `q` leaves the alternate screen and shows the cursor.
// Every assert.ok has a message (see v2ray-rig.test.ts for why).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startCurlDownload, type CurlRun } from "../rig/curl.js";
import { startPayloadServer, type PayloadServer } from "../rig/payload-server.js";
import {
  makeAccount,
  startV2rayClient,
  startV2rayServer,
  type Protocol,
  type RigClient,
  type RigServer,
} from "../rig/v2ray.js";
import { KUOTA_BIN, WorkerSandbox } from "../rig/worker.js";

const PROTOCOLS: Protocol[] = ["vmess", "vless", "trojan", "shadowsocks"];
const ACCOUNTS = Array.from({ length: 20 }, (_, i) => {
  const protocol = PROTOCOLS[i % PROTOCOLS.length] as Protocol;
  return makeAccount(protocol, `${protocol}-${String(i + 1).padStart(2, "0")}`);
});
const TMUX_SOCKET = `kuota-top-test-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync("tmux", ["-L", TMUX_SOCKET, ...args], { encoding: "utf8" });
}

function capture(): string[] {
  return tmux("capture-pane", "-p", "-t", "top").split("\n");
}

function paneFlag(name: string): string {
  return tmux("display-message", "-p", "-t", "top", `#{${name}}`).trim();
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; the pane showed:\n${capture().join("\n")}`);
    }
    await sleep(100);
  }
}

/** Account name → DOWN/s cell of one capture. */
function downRates(lines: string[]): Map<string, string> {
  const rates = new Map<string, string>();
  for (const line of lines) {
    const cells = line.trim().split(/\s+/);
    if (ACCOUNTS.some((a) => a.email === cells[0])) rates.set(cells[0] ?? "", cells[3] ?? "");
  }
  return rates;
}

describe("kuota top under tmux at 80x24", () => {
  let payload: PayloadServer;
  let server: RigServer;
  let worker: WorkerSandbox;
  const clients: RigClient[] = [];
  const downloads: CurlRun[] = [];

  before(async () => {
    payload = await startPayloadServer();
    server = await startV2rayServer({ accounts: ACCOUNTS, name: "top-server" });
    clients.push(...(await Promise.all(ACCOUNTS.map((a) => startV2rayClient(server, a)))));
    worker = new WorkerSandbox({
      XRAY_API: `127.0.0.1:${server.apiPort}`,
      XRAY_CONFIG: server.v2ray.configPath,
      XRAY_FLAVOR: "v2ray",
      KUOTA_POLL_MS: "250",
      KUOTA_LOG_LEVEL: "info",
    });
    await worker.start();
    // Every account downloads at its own pace, 100-290 KiB/s, for the whole test. Paced by
    // the server: curl's --limit-rate lets the proxies' buffers fill at full speed and then
    // stall, so most accounts would read 0 B/s at any given moment.
    ACCOUNTS.forEach((_, i) => {
      const client = clients[i] as RigClient;
      downloads.push(
        startCurlDownload(payload.bytesUrl(1024 ** 3, { rate: (100 + i * 10) * 1024 }), {
          socksPort: client.socksPort,
          maxTimeSec: 90,
        }),
      );
    });
    const env = Object.entries(worker.env)
      .map(([k, v]) => `${k}='${v}'`)
      .join(" ");
    tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "top", "bash --norc --noprofile");
    tmux("send-keys", "-t", "top", "clear; echo before-top", "Enter");
    tmux("send-keys", "-t", "top", `${env} ${process.execPath} ${KUOTA_BIN} top -i 250ms`, "Enter");
  });

  after(async () => {
    try {
      tmux("kill-server");
    } catch {
      // Already gone.
    }
    for (const run of downloads) run.kill("SIGKILL");
    await Promise.allSettled(downloads.map((d) => d.result));
    await worker?.stop();
    for (const client of clients) await client.v2ray.remove();
    await server?.v2ray.remove();
    await payload?.close();
  });

  test("shows 20 accounts in a full-screen table whose rates move", async (t) => {
    const first = await waitFor("20 rows with rates", () => {
      const lines = capture();
      const rates = downRates(lines);
      const moving = [...rates.values()].filter((r) => /K|M/.test(r)).length;
      return rates.size === 20 && moving === 20 ? lines : undefined;
    });
    await sleep(1500);
    const second = capture();
    t.diagnostic(`first capture:\n${first.join("\n")}`);
    t.diagnostic(`second capture:\n${second.join("\n")}`);

    assert.equal(paneFlag("alternate_on"), "1", "top runs on the alternate screen");
    assert.equal(paneFlag("cursor_flag"), "0", "the cursor is hidden");
    for (const lines of [first, second]) {
      assert.equal(lines.length >= 24, true, "a whole pane");
      assert.match(
        lines[0] ?? "",
        /^kuota top +\d\d:\d\d:\d\d +20 accounts +up \S+\/s +down \S+\/s/,
      );
      assert.match(
        lines[2] ?? "",
        /^NAME +PROTO +UP\/s +DOWN\/s +TODAY +TOTAL +LIMIT/,
        "column titles",
      );
      assert.match(lines[23] ?? "", /^q quit/, "key line at the bottom");
      for (const line of lines) assert.ok(line.length <= 80, `wider than 80: ${line}`);
    }
    assert.notEqual(first[0], second[0], "the header (clock, totals) moves");
    const before = downRates(first);
    const after = downRates(second);
    assert.equal(after.size, 20, "all 20 accounts still shown");
    const changed = [...after].filter(([name, rate]) => before.get(name) !== rate);
    assert.ok(changed.length > 0, "some download rates changed between captures");
  });

  test("sorts by name on n", async () => {
    tmux("send-keys", "-t", "top", "n");
    const lines = await waitFor("sorted by name", () => {
      const l = capture();
      return /sort name low-high/.test(l[1] ?? "") ? l : undefined;
    });
    const names = lines.slice(3, 23).map((l) => l.split(/\s+/)[0]);
    assert.deepEqual(names, [...names].sort(), "rows in name order");
  });

  test("q restores the terminal: normal screen, cursor shown, shell back", async () => {
    tmux("send-keys", "-t", "top", "q");
    await waitFor("alternate screen left", () =>
      paneFlag("alternate_on") === "0" ? true : undefined,
    );
    tmux("send-keys", "-t", "top", "echo after-top-$?", "Enter");
    const lines = await waitFor("the shell to answer", () => {
      const l = capture();
      return l.some((x) => x.startsWith("after-top-0")) ? l : undefined;
    });
    assert.equal(paneFlag("cursor_flag"), "1", "cursor shown again");
    assert.ok(
      lines.some((l) => l === "before-top"),
      "the screen from before top is back",
    );
    assert.ok(!lines.some((l) => l.startsWith("kuota top")), "no table left on the normal screen");
  });
});
