/** Telegram's limit on a message's text, in UTF-16 code units after entity parsing. */
export const MESSAGE_LIMIT = 4096;

/**
 * Packs HTML blocks (each complete on its own: tags closed) into as few messages as fit in
 * `limit` characters, joined by `separator`. The HTML source is measured, which is never
 * shorter than the text Telegram counts, so a packed message is always accepted. A block
 * that alone exceeds the limit is cut (at a line end when possible) — it never carries an
 * open tag across, since callers keep blocks short; its tags may be lost then.
 *
 * @returns messages, each with the indexes of the blocks it holds
 */
export function packBlocks(
  blocks: readonly string[],
  limit = MESSAGE_LIMIT,
  separator = "\n",
): { text: string; blocks: number[] }[] {
  const out: { text: string; blocks: number[] }[] = [];
  let text = "";
  let held: number[] = [];
  blocks.forEach((raw, i) => {
    const block = raw.length > limit ? cutBlock(raw, limit) : raw;
    const joined = held.length === 0 ? block : text + separator + block;
    if (joined.length <= limit) {
      text = joined;
      held.push(i);
      return;
    }
    out.push({ text, blocks: held });
    text = block;
    held = [i];
  });
  if (held.length > 0) out.push({ text, blocks: held });
  return out;
}

/** Shortens an oversized block to `limit`, preferring a line end and never splitting an entity. */
function cutBlock(block: string, limit: number): string {
  let cut = block.slice(0, limit - 1);
  const nl = cut.lastIndexOf("\n");
  if (nl > limit / 2) cut = cut.slice(0, nl);
  const amp = cut.lastIndexOf("&");
  if (amp > cut.lastIndexOf(";")) cut = cut.slice(0, amp);
  const lt = cut.lastIndexOf("<");
  if (lt > cut.lastIndexOf(">")) cut = cut.slice(0, lt);
  // A lone high surrogate at the end would be an invalid string for Telegram.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut.replace(/<[^>]*>/g, "") + "…";
}
