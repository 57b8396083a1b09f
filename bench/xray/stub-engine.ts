/**
 * A stand-in for the engine's StatsService, for benchmarks only: N users whose
 * counters grow on every QueryStats call ("traffic on all of them"). Real v2ray
 * cannot be given traffic on 5,000 accounts at once on a 2-core machine without
 * the load generator drowning what is measured: the worker's own CPU.
 */
import * as grpc from "@grpc/grpc-js";
import { packageDefinition } from "../../src/engine/proto.js";

type Stat = { name: string; value: number };

export type StubEngine = { address: string; calls: () => number; close: () => Promise<void> };

/**
 * @param growing false: counters stay still (idle accounts); true: every call adds traffic
 */
export async function startStubEngine(users: string[], growing = true): Promise<StubEngine> {
  const loaded = grpc.loadPackageDefinition(packageDefinition("v2ray")) as unknown as {
    v2ray: {
      core: { app: { stats: { command: { StatsService: grpc.ServiceClientConstructor } } } };
    };
  };
  const service = loaded.v2ray.core.app.stats.command.StatsService.service;
  const started = Date.now();
  const values = new Map<string, number>();
  for (const u of users) {
    values.set(`user>>>${u}>>>traffic>>>uplink`, 0);
    values.set(`user>>>${u}>>>traffic>>>downlink`, 0);
  }
  let calls = 0;
  const server = new grpc.Server();
  server.addService(service, {
    GetSysStats: (_call: unknown, cb: grpc.sendUnaryData<{ Uptime: number }>) =>
      cb(null, { Uptime: Math.floor((Date.now() - started) / 1000) }),
    QueryStats: (_call: unknown, cb: grpc.sendUnaryData<{ stat: Stat[] }>) => {
      calls++;
      const stat: Stat[] = [];
      for (const [name, v] of values) {
        const next = growing ? v + 1000 + (calls % 7) : v;
        values.set(name, next);
        stat.push({ name, value: next });
      }
      cb(null, { stat });
    },
    GetStats: (call: { request: { name: string } }, cb: grpc.sendUnaryData<{ stat: Stat }>) => {
      const value = values.get(call.request.name);
      if (value === undefined) cb({ code: grpc.status.UNKNOWN, details: "not found" }, null);
      else cb(null, { stat: { name: call.request.name, value } });
    },
  } as unknown as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    calls: () => calls,
    close: () => new Promise((r) => server.tryShutdown(() => r())),
  };
}
