import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { parseJsonc } from "../accounts/jsonc.js";
import { readXrayConfig, asObject } from "../accounts/xray-config.js";
import { readLogTail, sourcesOf, type AccessRecord } from "../lifecycle/access-log.js";
import { peerFilter } from "../lifecycle/sockets.js";
import type { EngineClient } from "../engine/engine-client.js";
import type { Protocol } from "../store/store.js";

/** How much of the access log's end is searched: an account's live connections are recent. */
export const FAST_TAIL_BYTES = 512 * 1024;

/** What a fast cut needs to know about the engine config, read ahead of time. */
export type CutPlan = {
  /** Inbound tags and numeric ports per account protocol. */
  inbounds: Map<Protocol, { tags: string[]; ports: number[] }>;
  accessLog: string;
};

/** Reads the engine config once, so a cut does not parse it while bytes keep flowing. */
export async function readCutPlan(configPath: string, fallbackAccessLog: string): Promise<CutPlan> {
  const text = await readFile(configPath, "utf8");
  const inbounds = new Map<Protocol, { tags: string[]; ports: number[] }>();
  for (const i of readXrayConfig(text, configPath).inbounds) {
    const entry = inbounds.get(i.protocol) ?? { tags: [], ports: [] };
    if (i.tag !== null) entry.tags.push(i.tag);
    if (typeof i.port === "number") entry.ports.push(i.port);
    inbounds.set(i.protocol, entry);
  }
  const log = asObject(asObject(parseJsonc(text, configPath).value)?.["log"]);
  const access = log?.["access"];
  const usable = typeof access === "string" && access !== "" && access !== "none";
  return { inbounds, accessLog: usable ? access : fallbackAccessLog };
}

/** The connections the end of the access log attributes to an account (empty when unreadable). */
export async function recentSources(plan: CutPlan, name: string): Promise<AccessRecord[]> {
  return sourcesOf(await readLogTail(plan.accessLog, FAST_TAIL_BYTES).catch(() => ""), name);
}

const key = (s: AccessRecord) => `${s.ip} ${s.port}`;

/**
 * `ss -K` on several connections in one call. Spawned with child_process, not
 * execa like the rest of kuota: measured here, execa adds ~4 ms to each call
 * (7 ms against 11 ms), and a cut is a race with the traffic.
 * @returns how many sockets were destroyed; 0 when ss failed (the full delete retries)
 */
function killAll(sources: AccessRecord[], localPorts: number[]): Promise<number> {
  if (sources.length === 0) return Promise.resolve(0);
  const filter = sources.flatMap((s, i) => [
    ...(i === 0 ? [] : ["or"]),
    "(",
    ...peerFilter(s.ip, s.port, localPorts),
    ")",
  ]);
  return new Promise((resolve) => {
    const child = spawn("ss", ["-K", "-tnH", ...filter], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.on("error", () => resolve(0));
    child.on("close", (code) =>
      resolve(code === 0 ? out.split("\n").filter((l) => l.trim() !== "").length : 0),
    );
  });
}

/**
 * The first, fast part of cutting an Xray account: RemoveUser on its inbounds
 * over the collector's open channel and, at the same time, `ss -K` on the
 * connections already known to be its own (`known`, looked up while it was close
 * to its limit); then once more for connections the log shows since. The
 * lifecycle's delete runs right after and repeats both (finding nothing), edits
 * the config and records the deletion. Split out because the full delete reads
 * and validates the config first, and every millisecond lets bytes through.
 */
export async function cutXrayNow(
  engine: EngineClient,
  plan: CutPlan,
  name: string,
  protocol: Protocol,
  known: AccessRecord[],
): Promise<{ inbounds: number; connections: number; timings: Record<string, number> }> {
  const target = plan.inbounds.get(protocol) ?? { tags: [], ports: [] };
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const lap = (k: string) => (timings[k] = Math.round((performance.now() - t0) * 10) / 10);
  const kill = (sources: AccessRecord[]) => killAll(sources, target.ports);
  const [removed, first] = await Promise.all([
    Promise.all(target.tags.map((tag) => engine.removeUser(tag, name).catch(() => false))),
    kill(known).finally(() => lap("knownKilledMs")),
  ]);
  const seen = new Set(known.map(key));
  const later = (await recentSources(plan, name)).filter((s) => !seen.has(key(s)));
  const second = await kill(later);
  lap("doneMs");
  return {
    inbounds: removed.filter(Boolean).length,
    connections: first + second,
    timings,
  };
}
