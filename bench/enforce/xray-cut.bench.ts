/**
 * Cut overshoot for Xray accounts against real v2ray 4.34: a VLESS account with a
 * 20 MiB limit downloads at several rates, many times; the overshoot is what curl
 * received beyond the limit, also expressed in ms of transfer at the run's rate.
 * Run (root not needed): npm run build && node --import tsx --test bench/enforce/xray-cut.bench.ts
 */
import { test } from "node:test";
import { makeAccount, startV2rayClient, startV2rayServer } from "../../test/rig/v2ray.js";
import { startPayloadServer } from "../../test/rig/payload-server.js";
import { curlDownload, startCurlDownload } from "../../test/rig/curl.js";
import { WorkerSandbox } from "../../test/rig/worker.js";
import type { CreatedAccount } from "../../src/control/api.js";

const MiB = 1024 * 1024;
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const LIMIT = 20 * MiB;

test("xray cut overshoot", { timeout: 15 * 60_000 }, async (t) => {
  const free = makeAccount("vless", "bench-free");
  const server = await startV2rayServer({ accounts: [free] });
  const payload = await startPayloadServer();
  const worker = new WorkerSandbox({
    XRAY_API: `127.0.0.1:${server.apiPort}`,
    XRAY_CONFIG: server.v2ray.configPath,
    XRAY_ACCESS_LOG: server.v2ray.accessLog,
    KUOTA_PUBLIC_HOST: "127.0.0.1",
  });
  await worker.start();
  const freeClient = await startV2rayClient(server, free);
  const t0 = performance.now();
  const sample = await curlDownload(payload.bytesUrl(256 * MiB), {
    socksPort: freeClient.socksPort,
  });
  const fullRate = sample.downlinkBytes / ((performance.now() - t0) / 1000);

  const rows: string[] = [];
  let n = 0;
  for (const rate of [undefined, 100 * MiB, 10 * MiB]) {
    const overs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const name = `cut${n++}`;
      const r = await worker.cli(["account", "add", "vless", name, "--limit", "20MiB", "--json"]);
      const created = JSON.parse(r.stdout) as CreatedAccount;
      const client = await startV2rayClient(
        server,
        makeAccount("vless", name, { id: created.connection.secret }),
      );
      const url = payload.bytesUrl(512 * MiB, rate ? { rate } : {});
      const result = await startCurlDownload(url, { socksPort: client.socksPort, maxTimeSec: 8 })
        .result;
      overs.push((result.figures?.downlinkBytes ?? 0) - LIMIT);
      await client.v2ray.remove();
    }
    const r = rate ?? fullRate;
    const ms = overs.map((o) => (o / r) * 1000).sort((a, b) => a - b);
    const bytes = [...overs].sort((a, b) => a - b);
    const mid = Math.floor(ms.length / 2);
    rows.push(
      `| ${rate ? `${rate / MiB} MiB/s (paced)` : `${(fullRate / MiB).toFixed(0)} MiB/s (loopback, unpaced)`} | ${RUNS} | ` +
        `${bytes[0]} … ${bytes[mid]} … ${bytes[bytes.length - 1]} | ` +
        `${ms[0]?.toFixed(1)} … ${ms[mid]?.toFixed(1)} … ${ms[ms.length - 1]?.toFixed(1)} |`,
    );
  }
  t.diagnostic(
    "| rate | runs | overshoot bytes (min … median … max) | overshoot ms of transfer (min … median … max) |",
  );
  t.diagnostic("|---|---:|---|---|");
  for (const row of rows) t.diagnostic(row);
  await worker.stop();
});
