/**
 * The one spelling kuota keeps for a host a client asked for, from SNI or an HTTP header.
 */

/** Longest host name accepted, characters (DNS limit without the trailing dot). */
export const MAX_HOST_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/**
 * Lowercases a host name and removes one trailing dot. Returns null unless it is letters,
 * digits, hyphens, underscores and dots in non-empty labels of at most 63 characters, and at
 * most {@link MAX_HOST_LENGTH} characters in all. IPv4 literals pass as they are.
 */
export function normalizeHostName(raw: string): string | null {
  let host = raw.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host.length === 0 || host.length > MAX_HOST_LENGTH) return null;
  let labelLength = 0;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x2e) {
      if (labelLength === 0) return null;
      labelLength = 0;
      continue;
    }
    const allowed =
      (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
    if (!allowed || ++labelLength > MAX_LABEL_LENGTH) return null;
  }
  return labelLength === 0 ? null : host;
}

/**
 * Normalizes the host part of an HTTP `Host`-style value (`name`, `name:port`, `[v6]:port`).
 * IPv6 literals come back without brackets, lowercased. Returns null when it is not a host.
 */
export function normalizeAuthorityHost(authority: string): string | null {
  const value = authority.trim();
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 3 || close > 47) return null;
    const literal = value.slice(1, close).toLowerCase();
    return /^[0-9a-f:.]+$/.test(literal) && literal.includes(":") ? literal : null;
  }
  const colon = value.indexOf(":");
  if (colon >= 0 && !/^\d{1,5}$/.test(value.slice(colon + 1))) return null;
  return normalizeHostName(colon >= 0 ? value.slice(0, colon) : value);
}
