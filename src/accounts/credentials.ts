/**
 * Secrets for new accounts: UUIDs for VMess and VLESS, random passwords for Trojan, keys for
 * Shadowsocks in the form the inbound's cipher needs. All come from the system CSPRNG.
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { OperatorError } from "../core/errors.js";
import type { JsonObject } from "./jsonc.js";
import type { XrayClient, XrayInbound } from "./xray-config.js";

/** A random (version 4) UUID. */
export function newUuid(): string {
  return randomUUID();
}

const PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/**
 * A password of letters and digits, without look-alikes (l, o, I, O, 0, 1), so it survives
 * URLs, shell menus and being read aloud. 24 characters carry about 139 bits.
 */
export function newPassword(length = 24): string {
  let out = "";
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

/** Key length in bytes of the Shadowsocks 2022 ciphers; their keys are base64 of exactly this. */
const SS2022_KEY_BYTES: Record<string, number> = {
  "2022-blake3-aes-128-gcm": 16,
  "2022-blake3-aes-256-gcm": 32,
  "2022-blake3-chacha20-poly1305": 32,
};

/** A Shadowsocks password fit for `method`: a base64 key for 2022 ciphers, else a password. */
export function newShadowsocksPassword(method: string): string {
  const keyBytes = SS2022_KEY_BYTES[method.toLowerCase()];
  return keyBytes === undefined ? newPassword() : randomBytes(keyBytes).toString("base64");
}

/** Used when neither the inbound nor its clients name a Shadowsocks cipher. */
export const DEFAULT_SHADOWSOCKS_METHOD = "chacha20-ietf-poly1305";

/**
 * A new client for `inbound` named `name`: the object to put in the config's `clients` and the
 * same client as kuota reads it (for share links and the engine API). It copies the `level` of
 * the existing clients, since stats are switched on per level, and VLESS `flow` when every
 * existing client uses the same one.
 * @throws OperatorError for a single-user (V2Ray 4.x) Shadowsocks inbound
 */
export function newClient(
  inbound: XrayInbound,
  name: string,
): { config: JsonObject; client: XrayClient } {
  const level = inbound.clients.find((c) => c.level !== undefined)?.level;
  const client: XrayClient = { email: name };
  const config: JsonObject = {};
  switch (inbound.protocol) {
    case "vmess":
      client.id = newUuid();
      client.alterId = 0;
      Object.assign(config, { id: client.id, alterId: 0 });
      break;
    case "vless": {
      client.id = newUuid();
      config["id"] = client.id;
      const flows = new Set(inbound.clients.map((c) => c.flow ?? ""));
      const [flow] = flows;
      if (flows.size === 1 && flow) {
        client.flow = flow;
        config["flow"] = flow;
      }
      break;
    }
    case "trojan":
      client.password = newPassword();
      config["password"] = client.password;
      break;
    case "shadowsocks": {
      if (!inbound.multiUser) {
        throw new OperatorError(
          `shadowsocks inbound ${inbound.tag ?? "(untagged)"} holds a single user (V2Ray 4.x)`,
          "add a shadowsocks inbound per account, or switch to Xray, whose inbounds take clients",
        );
      }
      const method =
        inbound.clients.find((c) => c.method)?.method ??
        inbound.method ??
        DEFAULT_SHADOWSOCKS_METHOD;
      client.password = newShadowsocksPassword(method);
      client.method = method;
      config["password"] = client.password;
      // Xray's 2022 ciphers take the cipher from the inbound; older ones from each client.
      if (!(method.toLowerCase() in SS2022_KEY_BYTES)) config["method"] = method;
      break;
    }
  }
  config["email"] = name;
  if (level !== undefined) {
    client.level = level;
    config["level"] = level;
  }
  return { config, client };
}
