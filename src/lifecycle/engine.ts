/** The engine's HandlerService for one lifecycle operation. */
import { EngineClient, detectFlavor, type EngineUser } from "../engine/engine-client.js";
import type { Flavor } from "../engine/proto.js";
import type { AccountProtocol, XrayClient } from "../accounts/xray-config.js";
import type { LifecycleDeps } from "./deps.js";

/** Deadline of each HandlerService call (ms): a deletion must not wait long on a dead engine. */
const DEADLINE_MS = 1500;

/**
 * A client for the configured engine; the flavour is the configured one, else the collector's,
 * else detected with one call.
 * @throws EngineUnreachableError when detection finds no engine
 */
export async function openEngine(deps: LifecycleDeps): Promise<EngineClient> {
  const { config } = deps;
  const flavor =
    config.xrayFlavor !== "auto"
      ? config.xrayFlavor
      : (deps.engineFlavor() ?? (await detectFlavor(config.xrayApi, DEADLINE_MS)));
  return new EngineClient(config.xrayApi, flavor, DEADLINE_MS, true);
}

/** Shadowsocks CipherType numbers of each flavour's proto (AEAD ciphers only). */
const CIPHERS: Record<Flavor, Record<string, number>> = {
  v2ray: {
    "aes-128-gcm": 1,
    "aes-256-gcm": 2,
    "chacha20-poly1305": 3,
    "chacha20-ietf-poly1305": 3,
  },
  xray: { "aes-128-gcm": 5, "aes-256-gcm": 6, "chacha20-poly1305": 7, "chacha20-ietf-poly1305": 7 },
};

/**
 * The client as HandlerService takes it, for an inbound of `protocol`; null when it cannot be sent
 * safely (a Shadowsocks cipher without a known CipherType, e.g. the 2022 ciphers, whose account type
 * differs: a wrong account type crashes the engine).
 */
export function engineUser(
  protocol: AccountProtocol,
  client: XrayClient,
  flavor: Flavor,
): EngineUser | null {
  const email = client.email ?? "";
  const level = client.level ?? 0;
  switch (protocol) {
    case "vmess":
      return client.id
        ? { protocol, email, level, id: client.id, alterId: client.alterId ?? 0 }
        : null;
    case "vless":
      if (!client.id) return null;
      return client.flow
        ? { protocol, email, level, id: client.id, flow: client.flow }
        : { protocol, email, level, id: client.id };
    case "trojan":
      return client.password ? { protocol, email, level, password: client.password } : null;
    case "shadowsocks": {
      const cipherType = CIPHERS[flavor][(client.method ?? "").toLowerCase()];
      if (cipherType === undefined || !client.password) return null;
      return { protocol, email, level, password: client.password, cipherType };
    }
  }
}
