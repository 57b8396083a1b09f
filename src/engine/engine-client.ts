import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { buildRoot, packageDefinition, PACKAGE_PREFIX, type Flavor } from "./proto.js";
import { EngineError, EngineUnreachableError } from "../core/errors.js";

/** One counter as the engine reports it. */
export type EngineStat = { name: string; value: number };

/** An account to add to an inbound through HandlerService. */
export type EngineUser =
  | { protocol: "vmess"; email: string; level?: number; id: string; alterId?: number }
  | { protocol: "vless"; email: string; level?: number; id: string; flow?: string }
  | { protocol: "trojan"; email: string; level?: number; password: string }
  | {
      protocol: "shadowsocks";
      email: string;
      level?: number;
      password: string;
      cipherType: number;
    };

/** Per-call deadline (ms); a 10 ms poll must not pile up behind a stuck engine. */
const DEFAULT_DEADLINE_MS = 2000;

type Callback<T> = (err: grpc.ServiceError | null, res: T) => void;
type Method<Req, Res> = (req: Req, opts: grpc.CallOptions, cb: Callback<Res>) => void;
type Service = grpc.Client & Record<string, Method<unknown, unknown>>;

/** gRPC codes that mean "not reachable now, try again later". */
const TRANSIENT = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

/**
 * The engine's StatsService and HandlerService for one flavour. Calls reject with
 * EngineUnreachableError (transient) or EngineError (the engine answered an error).
 */
export class EngineClient {
  readonly flavor: Flavor;
  private readonly stats: Service;
  private readonly handler: Service;
  private readonly root: protobuf.Root;

  constructor(
    readonly address: string,
    flavor: Flavor,
    private readonly deadlineMs = DEFAULT_DEADLINE_MS,
    /**
     * A connection of its own instead of one shared with other clients of the same address: a
     * shared one may be waiting out a reconnect backoff after an engine restart (seen: "No
     * connection established" for seconds while the engine answered again).
     */
    ownConnection = false,
  ) {
    this.flavor = flavor;
    const loaded = grpc.loadPackageDefinition(packageDefinition(flavor));
    const p = PACKAGE_PREFIX[flavor];
    const lookup = (path: string) =>
      path
        .split(".")
        .reduce<unknown>(
          (o, k) => (o as Record<string, unknown>)[k],
          loaded,
        ) as grpc.ServiceClientConstructor;
    const options: grpc.ClientOptions = {
      // ~95k counters fit in the default 4 MiB; sellers with more are not capped.
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
      ...(ownConnection ? { "grpc.use_local_subchannel_pool": 1 } : {}),
    };
    const creds = grpc.credentials.createInsecure();
    const StatsService = lookup(`${p}.app.stats.command.StatsService`);
    const HandlerService = lookup(`${p}.app.proxyman.command.HandlerService`);
    this.stats = new StatsService(address, creds, options) as unknown as Service;
    // Share the channel: one TCP connection for both services.
    this.handler = new HandlerService(address, creds, {
      ...options,
      channelOverride: this.stats.getChannel(),
    }) as unknown as Service;
    this.root = buildRoot(flavor);
  }

  private call<Res>(service: Service, method: string, req: unknown): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = service[method] as Method<unknown, Res>;
      fn.call(service, req, { deadline: Date.now() + this.deadlineMs }, (err, res) => {
        if (!err) return resolve(res);
        if (TRANSIENT.has(err.code)) {
          reject(
            new EngineUnreachableError(`engine at ${this.address} unreachable: ${err.details}`, {
              cause: err,
            }),
          );
        } else {
          reject(
            new EngineError(`${method}: ${err.details || err.message}`, err.code, { cause: err }),
          );
        }
      });
    });
  }

  /** All counters whose name contains `pattern` (a plain substring match), without reset. */
  async queryStats(pattern: string): Promise<EngineStat[]> {
    const res = await this.call<{ stat: EngineStat[] }>(this.stats, "QueryStats", {
      pattern,
      reset: false,
    });
    return res.stat; // numbers already: see decodeStatList
  }

  /** One counter; null when the engine has not created it yet (no traffic so far). */
  async getStat(name: string): Promise<number | null> {
    try {
      const res = await this.call<{ stat: EngineStat | null }>(this.stats, "GetStats", {
        name,
        reset: false,
      });
      return res.stat ? Number(res.stat.value) : 0;
    } catch (err) {
      if (err instanceof EngineError && /not found/i.test(err.message)) return null;
      throw err;
    }
  }

  /** Seconds since the engine started; it goes down only when the engine restarts. */
  async uptimeSeconds(): Promise<number> {
    const res = await this.call<{ Uptime: number }>(this.stats, "GetSysStats", {});
    return Number(res.Uptime);
  }

  private typed(message: string, value: Record<string, unknown>) {
    const type = this.root.lookupType(`${PACKAGE_PREFIX[this.flavor]}.${message}`);
    return {
      type: type.fullName.replace(/^\./, ""),
      value: type.encode(type.fromObject(value)).finish(),
    };
  }

  /**
   * Adds a user to an inbound, live. The caller must have checked that the
   * inbound's protocol matches: a wrong account type crashes the whole engine.
   */
  async addUser(inboundTag: string, user: EngineUser): Promise<void> {
    let account;
    switch (user.protocol) {
      case "vmess":
        account = this.typed("proxy.vmess.Account", { id: user.id, alter_id: user.alterId ?? 0 });
        break;
      case "vless":
        account = this.typed("proxy.vless.Account", {
          id: user.id,
          flow: user.flow ?? "",
          encryption: "none",
        });
        break;
      case "trojan":
        account = this.typed("proxy.trojan.Account", { password: user.password });
        break;
      case "shadowsocks":
        account = this.typed("proxy.shadowsocks.Account", {
          password: user.password,
          cipher_type: user.cipherType,
        });
        break;
    }
    const operation = this.typed("app.proxyman.command.AddUserOperation", {
      user: { level: user.level ?? 0, email: user.email, account },
    });
    await this.call(this.handler, "AlterInbound", { tag: inboundTag, operation });
  }

  /** Removes a user from an inbound, live; resolves false if the inbound did not hold it. */
  async removeUser(inboundTag: string, email: string): Promise<boolean> {
    const operation = this.typed("app.proxyman.command.RemoveUserOperation", { email });
    try {
      await this.call(this.handler, "AlterInbound", { tag: inboundTag, operation });
      return true;
    } catch (err) {
      if (err instanceof EngineError && /not found/i.test(err.message)) return false;
      throw err;
    }
  }

  close(): void {
    this.handler.close();
    this.stats.close();
  }
}

/**
 * Finds which flavour the engine speaks with one GetSysStats call per candidate:
 * the wrong one answers UNIMPLEMENTED ("unknown service").
 * @throws EngineUnreachableError when the engine does not answer at all
 */
export async function detectFlavor(
  address: string,
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<Flavor> {
  let lastError: unknown;
  for (const flavor of ["xray", "v2ray"] as const) {
    const client = new EngineClient(address, flavor, deadlineMs);
    try {
      await client.uptimeSeconds();
      return flavor;
    } catch (err) {
      lastError = err;
      if (err instanceof EngineError && err.code === grpc.status.UNIMPLEMENTED) continue;
      throw err;
    } finally {
      client.close();
    }
  }
  throw new EngineError(
    `the engine at ${address} speaks neither the Xray nor the V2Ray API`,
    grpc.status.UNIMPLEMENTED,
    { cause: lastError },
  );
}
