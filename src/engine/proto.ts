import protobuf from "protobufjs";
import * as protoLoader from "@grpc/proto-loader";
import type { PackageDefinition } from "@grpc/proto-loader";
import { decodeStatList } from "./stat-list.js";

/**
 * The engine's gRPC API, reduced to the messages kuota uses. Xray and V2Ray 4.x
 * share every message and field number; only the package prefix differs
 * (`xray.` versus `v2ray.core.`), so one schema is instantiated per flavour.
 * Written from the field numbers in ../shared/notes/xray-api.md.
 */
export type Flavor = "xray" | "v2ray";

export const PACKAGE_PREFIX: Record<Flavor, string> = {
  xray: "xray",
  v2ray: "v2ray.core",
};

function schema(p: string): string {
  return `
syntax = "proto3";

package ${p}.common.serial;
message TypedMessage { string type = 1; bytes value = 2; }

package ${p}.common.protocol;
message User { uint32 level = 1; string email = 2; ${p}.common.serial.TypedMessage account = 3; }

package ${p}.app.stats.command;
message GetStatsRequest { string name = 1; bool reset = 2; }
message Stat { string name = 1; int64 value = 2; }
message GetStatsResponse { Stat stat = 1; }
message QueryStatsRequest { string pattern = 1; bool reset = 2; }
message QueryStatsResponse { repeated Stat stat = 1; }
message SysStatsRequest {}
message SysStatsResponse {
  uint32 NumGoroutine = 1; uint32 NumGC = 2; uint64 Alloc = 3; uint64 TotalAlloc = 4;
  uint64 Sys = 5; uint64 Mallocs = 6; uint64 Frees = 7; uint64 LiveObjects = 8;
  uint64 PauseTotalNs = 9; uint32 Uptime = 10;
}
service StatsService {
  rpc GetStats(GetStatsRequest) returns (GetStatsResponse) {}
  rpc QueryStats(QueryStatsRequest) returns (QueryStatsResponse) {}
  rpc GetSysStats(SysStatsRequest) returns (SysStatsResponse) {}
}

package ${p}.app.proxyman.command;
message AddUserOperation { ${p}.common.protocol.User user = 1; }
message RemoveUserOperation { string email = 1; }
message AlterInboundRequest { string tag = 1; ${p}.common.serial.TypedMessage operation = 2; }
message AlterInboundResponse {}
service HandlerService {
  rpc AlterInbound(AlterInboundRequest) returns (AlterInboundResponse) {}
}

package ${p}.proxy.vmess;
message Account { string id = 1; uint32 alter_id = 2; }

package ${p}.proxy.vless;
message Account { string id = 1; string flow = 2; string encryption = 3; }

package ${p}.proxy.trojan;
message Account { string password = 1; }

package ${p}.proxy.shadowsocks;
message Account { string password = 1; int32 cipher_type = 2; }
`;
}

/**
 * protobufjs accepts one `package` per parse, so the schema is split at each
 * package line and the pieces are parsed into one root.
 */
export function buildRoot(flavor: Flavor): protobuf.Root {
  const root = new protobuf.Root();
  const text = schema(PACKAGE_PREFIX[flavor]);
  const parts = text.split(/^(?=package )/m).filter((s) => s.startsWith("package "));
  for (const part of parts) {
    protobuf.parse(`syntax = "proto3";\n${part}`, root, { keepCase: true });
  }
  root.resolveAll();
  return root;
}

/**
 * The gRPC package definition for one flavour (int64 as JS numbers: exact below 2^53 bytes).
 * QueryStats answers are read by {@link decodeStatList}, the every-second hot path.
 */
export function packageDefinition(flavor: Flavor): PackageDefinition {
  const json = buildRoot(flavor).toJSON();
  const definition = protoLoader.fromJSON(json, {
    keepCase: true,
    longs: Number,
    defaults: true,
    enums: Number,
  });
  const stats = definition[`${PACKAGE_PREFIX[flavor]}.app.stats.command.StatsService`];
  const queryStats = (stats as protoLoader.ServiceDefinition | undefined)?.["QueryStats"];
  if (!queryStats) throw new Error("StatsService.QueryStats missing from the schema");
  queryStats.responseDeserialize = (bytes: Buffer) => ({ stat: decodeStatList(bytes) });
  return definition;
}
