/**
 * An error as a plain object for pino, with every secret replaced. Network errors of the
 * Bot API client can carry the request URL, and the URL carries the token; logging an
 * Error directly could put it in the log.
 */
export function safeError(err: unknown, secrets: readonly string[]): Record<string, unknown> {
  const scrub = (s: string) =>
    secrets.reduce((acc, secret) => (secret ? acc.split(secret).join("[redacted]") : acc), s);
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number): Record<string, unknown> => {
    if (!(e instanceof Error)) return { message: scrub(String(e)) };
    seen.add(e);
    const out: Record<string, unknown> = {
      name: e.name,
      message: scrub(e.message),
      stack: scrub(e.stack ?? ""),
    };
    const code = (e as { code?: unknown }).code;
    const errorCode = (e as { error_code?: unknown }).error_code;
    if (typeof code === "string" || typeof code === "number") out.code = code;
    if (typeof errorCode === "number") out.errorCode = errorCode;
    const inner = (e as { error?: unknown }).error ?? e.cause;
    if (inner !== undefined && !seen.has(inner) && depth < 4) out.cause = walk(inner, depth + 1);
    return out;
  };
  return walk(err, 0);
}
