/**
 * Host capture as a worker component: the nft rule and the NFLOG reader (SNI and HTTP Host of new
 * connections on CAPTURE_PORTS), the Xray access-log follower (destinations), both feeding one
 * deduplicating recorder; GET /v1/hosts; "capture" in GET /v1/status.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { OperatorError } from "../core/errors.js";
import { Nft, isNoSuchObject } from "../collect/ssh/nft.js";
import { readXrayConfig, type XrayInbound } from "../accounts/xray-config.js";
import { ApiError } from "../control/api-error.js";
import { AccessLogFollower, type LogPosition } from "./access-log-follower.js";
import {
  CAPTURE_OBJECTS,
  TABLE,
  captureTableScript,
  removeCaptureScript,
} from "./capture-ruleset.js";
import { HostRecorder } from "./host-recorder.js";
import { NflogReader } from "./nflog-reader.js";
import { ServiceResolver } from "./service-map.js";
import { parseAccessLine, type AccessLogEntry } from "./xray-access-line.js";
import type { Sighting } from "./sightings.js";
import type { HostStore, HostRecord, HostFilter } from "../store/host-store.js";
import type { HostView, StatusView } from "../control/api.js";
import type { Router } from "../control/router.js";
import type { WorkerComponent } from "../worker/component.js";
import type { WorkerContext } from "../worker/worker.js";
import type { Logger } from "../core/log.js";

/** collector_state key of the access log position. */
export const ACCESS_LOG_STATE_KEY = "capture.access_log.position";
/** How often the rule counter is read (loss, and the rule's presence after `nft flush ruleset`), ms. */
const WATCH_MS = 2_000;
/** Wait before restarting a tcpdump that ended on its own, ms. */
const RESTART_MS = 5_000;

type CaptureStatus = NonNullable<StatusView["capture"]>;

export function hostView(h: HostRecord): HostView {
  return {
    id: h.id,
    host: h.host,
    service: h.service,
    source_ip: h.sourceIp,
    account: h.account,
    kind: h.kind,
    count: h.count,
    first_seen: h.firstSeen,
    last_seen: h.lastSeen,
  };
}

/** Service names of v2ray 4.x lines, which name no inbound: the account's protocol. */
type AccountProtocolLookup = (account: string) => Promise<string | null>;

export class CaptureComponent implements WorkerComponent {
  readonly name = "capture";
  readonly #ctx: WorkerContext;
  readonly #log: Logger;
  readonly #hosts: HostStore;
  readonly #recorder: HostRecorder;
  readonly #nft = new Nft();
  #resolver: ServiceResolver;
  #inbounds: XrayInbound[] = [];
  #configMtimeMs = -1;
  #reader: NflogReader | null = null;
  #follower: AccessLogFollower | null = null;
  #watch: NodeJS.Timeout | null = null;
  #restart: NodeJS.Timeout | null = null;
  #stopping = false;
  #ruleLoaded = false;
  #reason: string | undefined;
  /** Records received by earlier tcpdump runs, and rule counts of earlier rule incarnations. */
  #receivedBefore = 0;
  #counterBefore = 0;
  #lastCounter = 0;
  #lost = 0;
  #accountProtocols = new Map<string, string | null>();

  constructor(ctx: WorkerContext) {
    this.#ctx = ctx;
    this.#log = ctx.log.child({ component: "capture" });
    this.#hosts = ctx.hosts;
    this.#recorder = new HostRecorder({
      store: this.#hosts,
      hostsLog: join(ctx.config.dataDir, "hosts.log"),
      log: this.#log,
    });
    const { captureServiceMap, sshPorts } = ctx.config;
    this.#resolver = new ServiceResolver(captureServiceMap, [], sshPorts);
  }

  async start(): Promise<void> {
    await this.#recorder.start();
    const { config } = this.#ctx;
    if (!config.captureEnabled) {
      this.#reason = "CAPTURE_ENABLED=false";
      await this.#nft.run(removeCaptureScript()).catch(() => undefined);
      this.#log.info("host capture is off (CAPTURE_ENABLED=false)");
      return;
    }
    await this.#loadXrayConfig();
    await this.#startFollower();
    await this.#startReader();
    this.#watch = setInterval(() => void this.#tick(), WATCH_MS);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#watch !== null) clearInterval(this.#watch);
    if (this.#restart !== null) clearTimeout(this.#restart);
    await this.#reader?.stop();
    if (this.#ruleLoaded) {
      await this.#nft.run(removeCaptureScript()).catch((err: unknown) => {
        if (!isNoSuchObject(err)) this.#log.warn({ err }, "could not remove the capture rule");
      });
    }
    await this.#follower?.stop();
    await this.#recorder.stop();
  }

  status(): CaptureStatus {
    const received = this.#received();
    const dropped = (this.#reader?.counts.dropped ?? 0) + this.#recorder.dropped;
    const accessLog: NonNullable<CaptureStatus["accessLog"]> = {
      path: this.#ctx.config.xrayAccessLog,
    };
    const view: CaptureStatus = {
      enabled: this.#reader !== null && this.#ruleLoaded,
      records: received,
      lost: this.#lost,
      hosts: this.#recorder.hosts,
      dropped,
      accessLog,
    };
    if (this.#reason !== undefined) view.reason = this.#reason;
    const problem = this.#follower?.problem;
    if (problem) accessLog.problem = problem;
    return view;
  }

  routes(router: Router): void {
    router.get("/v1/hosts", async (req) => {
      const filter: HostFilter = {};
      const limit = intParam(req.query.get("limit"), "limit");
      const afterId = intParam(req.query.get("after_id"), "after_id");
      if (limit !== undefined) filter.limit = limit;
      if (afterId !== undefined) filter.afterId = afterId;
      const since = req.query.get("since");
      if (since !== null && since !== "") {
        const t = Date.parse(since);
        if (Number.isNaN(t)) {
          throw new ApiError(400, "bad_since", `since=${since} is not a time`, "use ISO 8601");
        }
        filter.since = new Date(t).toISOString();
      }
      const service = req.query.get("service");
      if (service) filter.service = service;
      const q = req.query.get("q");
      if (q) filter.q = q;
      return { hosts: (await this.#hosts.listHosts(filter)).map(hostView) };
    });
  }

  // --- NFLOG side ---------------------------------------------------------------------------

  async #startReader(): Promise<void> {
    const { captureNflogGroup: group, capturePorts } = this.#ctx.config;
    const reader = new NflogReader({
      group,
      onSightings: (found) => this.#onSightings(found),
      onExit: (detail) => this.#onReaderExit(detail),
    });
    try {
      // The reader listens before the rule exists, so no record of the first connections is lost.
      await reader.start();
      await this.#nft.run(captureTableScript(capturePorts, group));
    } catch (err) {
      await reader.stop();
      if (!(err instanceof OperatorError)) throw err;
      this.#reason = `${err.message}; ${err.hint ?? ""}`.replace(/; $/, "");
      this.#log.warn({ hint: err.hint }, `host capture from packets is off: ${err.message}`);
      return;
    }
    this.#reader = reader;
    this.#ruleLoaded = true;
    this.#reason = undefined;
    this.#log.info({ group, ports: capturePorts }, "capturing SNI and HTTP hosts");
  }

  #onReaderExit(detail: string): void {
    if (this.#stopping) return;
    const reader = this.#reader;
    this.#reader = null;
    this.#receivedBefore += reader?.counts.received ?? 0;
    this.#reason = `tcpdump ended: ${detail}`;
    this.#log.warn({ detail, retryMs: RESTART_MS }, "tcpdump ended; restarting it");
    this.#restart = setTimeout(() => {
      this.#restart = null;
      if (!this.#stopping) void this.#startReader();
    }, RESTART_MS);
  }

  #received(): number {
    return this.#receivedBefore + (this.#reader?.counts.received ?? 0);
  }

  /**
   * Reads the rule's counter. Loss is the counter as read last time minus the records received
   * since (at least one kernel flush later): a lower bound while traffic flows, exact once quiet.
   * A missing counter means someone flushed the ruleset: the rule is put back.
   */
  async #tick(): Promise<void> {
    if (this.#stopping || !this.#ruleLoaded) return;
    const received = this.#received();
    this.#lost = Math.max(this.#lost, this.#counterBefore + this.#lastCounter - received);
    let counters;
    try {
      counters = await this.#nft.readCounters(TABLE);
    } catch (err) {
      this.#log.warn({ err }, "could not read the capture counter");
      return;
    }
    const seen = counters.get(CAPTURE_OBJECTS.counter);
    if (seen !== undefined) {
      this.#lastCounter = seen.packets;
    } else {
      this.#counterBefore += this.#lastCounter;
      this.#lastCounter = 0;
      const { capturePorts, captureNflogGroup } = this.#ctx.config;
      try {
        await this.#nft.run(captureTableScript(capturePorts, captureNflogGroup));
        this.#log.warn("the capture rule was gone (nft flush ruleset?); loaded it again");
      } catch (err) {
        this.#log.warn({ err }, "could not load the capture rule again");
      }
    }
    await this.#loadXrayConfig();
  }

  #onSightings(found: Sighting[]): void {
    for (const s of found) {
      const at = new Date(s.tsMs).toISOString();
      const base = { sourceIp: s.sourceIp, account: null, kind: s.kind, at };
      const facts = { destPort: s.destPort, host: s.host };
      const service = this.#resolver.resolve(
        s.path === undefined ? facts : { ...facts, path: s.path },
      );
      this.#recorder.add({ ...base, host: s.host, service });
      for (const extra of [s.forwardedHost, s.realHost]) {
        if (extra !== undefined && extra !== s.host)
          this.#recorder.add({ ...base, host: extra, service });
      }
      this.#log.debug({ host: s.host, kind: s.kind, service, sourceIp: s.sourceIp }, "sighting");
    }
  }

  // --- Xray side ----------------------------------------------------------------------------

  async #loadXrayConfig(): Promise<void> {
    const { xrayConfig, captureServiceMap, sshPorts } = this.#ctx.config;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(xrayConfig)).mtimeMs;
    } catch {
      return;
    }
    if (mtimeMs === this.#configMtimeMs) return;
    this.#configMtimeMs = mtimeMs;
    try {
      this.#inbounds = readXrayConfig(await readFile(xrayConfig, "utf8"), xrayConfig).inbounds;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, "cannot read XRAY_CONFIG for service names");
      return;
    }
    this.#resolver = new ServiceResolver(captureServiceMap, this.#inbounds, sshPorts);
  }

  async #startFollower(): Promise<void> {
    const path = this.#ctx.config.xrayAccessLog;
    const saved = await this.#ctx.store.getState(ACCESS_LOG_STATE_KEY);
    let position: LogPosition | null = null;
    if (saved !== null) {
      try {
        position = JSON.parse(saved) as LogPosition;
      } catch {
        position = null;
      }
    }
    const follower = new AccessLogFollower({
      path,
      position,
      onLines: (lines, at) => this.#onAccessLines(lines, at),
    });
    this.#follower = follower;
    follower.start();
    await follower.poll();
    if (follower.problem !== null) {
      this.#log.warn(
        { hint: "set XRAY_ACCESS_LOG to the engine's log.access file; it is read once it exists" },
        `Xray access log not readable yet: ${follower.problem}`,
      );
    }
  }

  async #onAccessLines(lines: string[], position: LogPosition): Promise<void> {
    for (const line of lines) {
      const entry = parseAccessLine(line);
      if (entry === null) continue;
      this.#recorder.add({
        host: entry.host,
        service: await this.#serviceOf(entry),
        sourceIp: entry.sourceIp,
        account: entry.account,
        kind: "xray",
        at: new Date(entry.tsMs ?? Date.now()).toISOString(),
      });
    }
    this.#recorder.setState(ACCESS_LOG_STATE_KEY, JSON.stringify(position));
  }

  /** Inbound tag → its protocol; else (V2Ray 4.x) the account's protocol; else XRAY. */
  async #serviceOf(entry: AccessLogEntry): Promise<string> {
    if (entry.inboundTag !== null) {
      const inbound = this.#inbounds.find((i) => i.tag === entry.inboundTag);
      if (inbound !== undefined) return inbound.protocol.toUpperCase();
    }
    if (entry.account !== null) {
      const protocol = await this.#accountProtocol(entry.account);
      if (protocol !== null) return protocol;
    }
    return "XRAY";
  }

  readonly #accountProtocol: AccountProtocolLookup = async (account) => {
    if (this.#accountProtocols.has(account)) return this.#accountProtocols.get(account) ?? null;
    const found = await this.#ctx.store.getAccount(account);
    let protocol = found?.protocol.toUpperCase() ?? null;
    if (protocol === null) {
      const inbound = this.#inbounds.find((i) => i.clients.some((c) => c.email === account));
      protocol = inbound?.protocol.toUpperCase() ?? null;
    }
    if (this.#accountProtocols.size > 10_000) this.#accountProtocols.clear();
    // Unknown accounts are asked again: discovery may adopt them any moment.
    if (protocol !== null) this.#accountProtocols.set(account, protocol);
    return protocol;
  };
}

function intParam(value: string | null, name: string): number | undefined {
  if (value === null || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new ApiError(400, `bad_${name}`, `${name}=${value} is not a whole number`);
  }
  return n;
}
