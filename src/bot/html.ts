/** Text helpers for Telegram's HTML parse mode. */

/** Escapes a dynamic value for HTML parse mode: `&`, `<`, `>` and `"`. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (ch) =>
    ch === "&" ? "&amp;" : ch === "<" ? "&lt;" : ch === ">" ? "&gt;" : "&quot;",
  );
}

/**
 * At most `max` characters (code points, so an emoji is never cut in half) of `text`, with
 * `…` when shortened. Used before echoing anything a user typed.
 */
export function clip(text: string, max = 40): string {
  const points = Array.from(text);
  return points.length <= max ? text : points.slice(0, max - 1).join("") + "…";
}

/** `clip` then `escapeHtml`: the form every echoed input takes. */
export function echo(text: string, max = 40): string {
  return escapeHtml(clip(text, max));
}

/**
 * A ten-cell text bar of a percentage, e.g. `▓▓▓░░░░░░░` for 30; full above 100.
 * Null (no limit) gives an empty string.
 */
export function usageBar(percent: number | null, cells = 10): string {
  if (percent === null || !Number.isFinite(percent)) return "";
  const filled = Math.min(cells, Math.max(0, Math.round((percent / 100) * cells)));
  return "▓".repeat(filled) + "░".repeat(cells - filled);
}
