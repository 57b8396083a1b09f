/**
 * Adds and removes clients in engine config text by touching only the characters that must
 * change, so comments, key order, indentation and line endings stay as the seller (or the
 * autoscript) wrote them. Every edit is re-parsed and compared with the intended change; anything
 * else is a bug and throws before the text can reach the disk.
 *
 * Two layouts of `clients` are handled line by line:
 * - one client per line or per block of lines, separated by a comma after each client;
 * - the autoscripts' glued layout, where each added client starts with a line `},{"id": ...`
 *   that closes the previous client, usually under a marker line such as `### bob 2026-12-31`
 *   (`#&`, `#!` and similar prefixes too).
 * Anything else (an inline `[{...},{...}]`) is edited token by token.
 *
 * Known shortcomings, to end when a seller needs it:
 * - New clients are appended as ordinary entries, never in the glued layout and without a
 *   marker line, so an autoscript's own user list (`grep '^###'`) does not show them.
 * - Removing the first client of a glued list (the one holding the `#vless` anchor) takes the
 *   comment lines inside it along, anchor included; autoscripts never remove that client.
 * - V2Ray 4.x single-user shadowsocks inbounds are neither added to nor removed from.
 */
import { isDeepStrictEqual } from "node:util";
import { OperatorError } from "../core/errors.js";
import {
  memberOf,
  parseJsonc,
  type JsonArrayNode,
  type JsonComment,
  type JsonNode,
  type JsonObject,
  type JsonObjectNode,
  type JsonValue,
  type JsoncDocument,
} from "./jsonc.js";
import { asObject, inboundLabel } from "./xray-config.js";

/** An edit produced a config that differs from the intended one in some other way: a kuota bug. */
export class ConfigEditError extends Error {
  override name = "ConfigEditError";
}

/**
 * Appends a client to `settings.clients` of the inbound tagged `inboundTag`, in the layout of the
 * clients already there. An empty `[]` becomes a block with the client on its own line.
 * @param client the client object as the engine reads it, e.g. `{ id, email, level }`
 * @returns the new config text
 * @throws OperatorError when no inbound or more than one has that tag, or it has no clients list
 * @throws ConfigEditError when the edit would change anything but that client (a bug)
 */
export function addClient(text: string, inboundTag: string, client: JsonObject): string {
  const doc = parseJsonc(text);
  const inbounds = inboundNodes(doc.root);
  const matches = inbounds.filter(({ node }) => stringMember(node, "tag") === inboundTag);
  const match = matches[0];
  if (!match || matches.length > 1) {
    throw new OperatorError(
      matches.length === 0
        ? `the config has no inbound tagged "${inboundTag}"`
        : `the config has ${matches.length} inbounds tagged "${inboundTag}"`,
      "give each account inbound its own tag in the engine config",
    );
  }
  const clients = memberOf(memberOf(match.node, "settings")?.value, "clients")?.value;
  if (clients?.kind !== "array") {
    throw new OperatorError(
      `inbound "${inboundTag}" has no settings.clients list`,
      "V2Ray 4.x shadowsocks inbounds hold a single user; use Xray or a second inbound",
    );
  }
  const newText = applyEdits(text, insertionEdits(text, doc, clients, client));
  verify(text, newText, (config) => {
    clientsOf(config, match.index)?.push(client);
  });
  return newText;
}

/**
 * Removes every client with this email (compared case-insensitively) from every inbound, each
 * with its separating comma and the autoscript marker line directly above it that names the
 * email (`### bob 2026-12-31`). Other comments stay.
 * @returns the new text and the inbounds it was removed from (tags, or "#N" by position); the
 *   text is unchanged and the list empty when no inbound holds the email
 * @throws ConfigEditError when the edit would change anything but those clients (a bug)
 */
export function removeClient(text: string, email: string): { text: string; removedFrom: string[] } {
  const wanted = email.toLowerCase();
  const doc = parseJsonc(text);
  const removedFrom: string[] = [];
  let count = 0;
  for (const { node, index } of inboundNodes(doc.root)) {
    const clients = memberOf(memberOf(node, "settings")?.value, "clients")?.value;
    if (clients?.kind !== "array") continue;
    const found = clients.items.filter((item) => emailOf(item) === wanted).length;
    if (found === 0) continue;
    removedFrom.push(inboundLabel(stringMember(node, "tag"), index));
    count += found;
  }
  if (count === 0) return { text, removedFrom };

  // One client at a time, each on a fresh parse of the text the previous removal left, so that
  // neighbouring removals never have to agree on shared commas and lines.
  let newText = text;
  for (let i = 0; i < count; i++) {
    const current = parseJsonc(newText);
    const target = findClient(current, wanted);
    if (!target) break;
    newText = applyEdits(
      newText,
      removalEdits(newText, current, target.array, target.item, wanted),
    );
  }
  verify(text, newText, (config) => {
    for (const inbound of asArrayValue(asObject(config)?.["inbounds"])) {
      const list = asArrayValue(asObject(asObject(inbound)?.["settings"] ?? null)?.["clients"]);
      const kept = list.filter((c) => emailValue(c) !== wanted);
      list.splice(0, list.length, ...kept);
    }
  });
  return { text: newText, removedFrom };
}

interface Edit {
  start: number;
  end: number;
  insert: string;
}

/** Applies non-overlapping edits; of two at the same offset, the first listed ends up first. */
function applyEdits(text: string, edits: Edit[]): string {
  let out = text;
  const order = edits.map((edit, i) => ({ edit, i }));
  order.sort((a, b) => b.edit.start - a.edit.start || b.i - a.i);
  for (const { edit } of order) {
    out = out.slice(0, edit.start) + edit.insert + out.slice(edit.end);
  }
  return out;
}

/** Re-parses the edited text and requires it to equal the old config with `change` applied. */
function verify(oldText: string, newText: string, change: (config: JsonValue) => void): void {
  const expected = structuredClone(parseJsonc(oldText).value);
  change(expected);
  let actual: JsonValue;
  try {
    actual = parseJsonc(newText).value;
  } catch (err) {
    throw new ConfigEditError("an edit of the engine config produced text that does not parse", {
      cause: err,
    });
  }
  if (!isDeepStrictEqual(actual, expected)) {
    throw new ConfigEditError("an edit of the engine config changed more than the one client");
  }
}

function clientsOf(config: JsonValue, inboundIndex: number): JsonValue[] | null {
  const inbound = asObject(asArrayValue(asObject(config)?.["inbounds"])[inboundIndex]);
  const clients = asObject(inbound?.["settings"] ?? null)?.["clients"];
  return Array.isArray(clients) ? clients : null;
}

function inboundNodes(root: JsonNode): { node: JsonObjectNode; index: number }[] {
  const list = memberOf(root, "inbounds")?.value;
  if (list?.kind !== "array") return [];
  return list.items.flatMap((node, index) => (node.kind === "object" ? [{ node, index }] : []));
}

function findClient(
  doc: JsoncDocument,
  email: string,
): { array: JsonArrayNode; item: number } | null {
  for (const { node } of inboundNodes(doc.root)) {
    const clients = memberOf(memberOf(node, "settings")?.value, "clients")?.value;
    if (clients?.kind !== "array") continue;
    const item = clients.items.findIndex((c) => emailOf(c) === email);
    if (item >= 0) return { array: clients, item };
  }
  return null;
}

function stringMember(node: JsonNode, key: string): string | null {
  const value = memberOf(node, key)?.value;
  return value?.kind === "scalar" && typeof value.value === "string" ? value.value : null;
}

function emailOf(node: JsonNode): string | null {
  return stringMember(node, "email")?.toLowerCase() ?? null;
}

function emailValue(value: JsonValue): string | null {
  const email = asObject(value)?.["email"];
  return typeof email === "string" ? email.toLowerCase() : null;
}

function asArrayValue(value: JsonValue | undefined): JsonValue[] {
  return Array.isArray(value) ? value : [];
}

// ---- text geometry ----

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf("\n", pos - 1) + 1;
}

/** Offset of the line break ending the line that holds `pos` (before a "\r\n"), or text end. */
function lineEnd(text: string, pos: number): number {
  const newline = text.indexOf("\n", pos);
  if (newline === -1) return text.length;
  return newline > 0 && text[newline - 1] === "\r" ? newline - 1 : newline;
}

/** Offset just past the line break ending the line that holds `pos`. */
function nextLineStart(text: string, pos: number): number {
  const newline = text.indexOf("\n", pos);
  return newline === -1 ? text.length : newline + 1;
}

function indentOf(text: string, pos: number): string {
  const start = lineStart(text, pos);
  let end = start;
  while (text[end] === " " || text[end] === "\t") end++;
  return text.slice(start, end);
}

function startsLine(text: string, pos: number): boolean {
  return text.slice(lineStart(text, pos), pos).trim() === "";
}

/** True when only whitespace and whole comments lie in [from, to). */
function onlyTrivia(text: string, comments: JsonComment[], from: number, to: number): boolean {
  let pos = from;
  while (pos < to) {
    const ch = text[pos];
    if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") {
      pos++;
      continue;
    }
    const comment = comments.find((c) => c.start === pos);
    if (!comment || comment.end > to) return false;
    pos = comment.end;
  }
  return true;
}

function lineBreakOf(text: string): string {
  return text.includes("\r\n") ? "\r\n" : "\n";
}

/** One indentation step, guessed from the file: a tab if lines start with tabs, else spaces. */
function indentStep(text: string, outer: string, inner: string | undefined): string {
  if (inner !== undefined && inner.length > outer.length && inner.startsWith(outer)) {
    return inner.slice(outer.length);
  }
  return /^\t/m.test(text) ? "\t" : "  ";
}

/**
 * True for a marker line such as `### bob 2026-12-31`, `#& bob 2026-12-31` or `#! bob`, whose
 * first word after the hash prefix is this email. `#vmess` (no space) is an anchor, never a marker.
 */
function isMarkerFor(line: string, email: string): boolean {
  const match = /^\s*#+[&!@$%^*~+-]*\s+(\S+)/.exec(line);
  return match?.[1]?.toLowerCase() === email;
}

// ---- insertion ----

function insertionEdits(
  text: string,
  doc: JsoncDocument,
  array: JsonArrayNode,
  client: JsonObject,
): Edit[] {
  const eol = lineBreakOf(text);
  const close = array.end - 1;
  const last = array.items.at(-1);
  if (!last) {
    const outer = indentOf(text, array.start);
    if (text.slice(array.start + 1, close).trim() === "") {
      const indent = outer + indentStep(text, outer, undefined);
      const insert = `${eol}${indent}${serializeClient(client, null, text, indent, eol)}${eol}${outer}`;
      return [{ start: array.start + 1, end: close, insert }];
    }
    // Only comments inside: the client goes on its own line just above the closing bracket.
    if (startsLine(text, close)) {
      const closeIndent = indentOf(text, close);
      const indent = closeIndent + indentStep(text, closeIndent, undefined);
      const insert = `${indent}${serializeClient(client, null, text, indent, eol)}${eol}`;
      const at = lineStart(text, close);
      return [{ start: at, end: at, insert }];
    }
    return [
      { start: close, end: close, insert: ` ${serializeClient(client, null, text, "", eol)} ` },
    ];
  }

  const sibling = [...array.items].reverse().find((item) => startsLine(text, item.start));
  const restOfLine = lineEnd(text, last.end);
  if (sibling && onlyTrivia(text, doc.comments, last.end, restOfLine)) {
    const indent = indentOf(text, sibling.start);
    const body = serializeClient(client, sibling, text, indent, eol);
    return [
      { start: last.end, end: last.end, insert: "," },
      { start: restOfLine, end: restOfLine, insert: `${eol}${indent}${body}` },
    ];
  }
  const body = serializeClient(client, null, text, "", eol);
  return [{ start: last.end, end: last.end, insert: `, ${body}` }];
}

/**
 * The client as text: over several lines like `sibling` when the sibling is a block whose first
 * member starts a line, else on one line.
 */
function serializeClient(
  client: JsonObject,
  sibling: JsonNode | null,
  text: string,
  indent: string,
  eol: string,
): string {
  const pairs = Object.entries(client).map(
    ([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`,
  );
  const first = sibling?.kind === "object" ? sibling.members[0] : undefined;
  if (sibling && first && startsLine(text, first.start)) {
    const inner = indentOf(text, first.start);
    return `{${eol}${pairs.map((p) => inner + p).join(`,${eol}`)}${eol}${indent}}`;
  }
  const spaced = sibling !== null && text[sibling.start + 1] === " ";
  return spaced ? `{ ${pairs.join(", ")} }` : `{${pairs.join(", ")}}`;
}

// ---- removal ----

function removalEdits(
  text: string,
  doc: JsoncDocument,
  array: JsonArrayNode,
  index: number,
  email: string,
): Edit[] {
  const item = array.items[index];
  if (!item) return [];
  const prev = array.items[index - 1];
  const next = array.items[index + 1];
  const commaAfter = array.commas[index];

  const glued =
    prev !== undefined &&
    item.kind === "object" &&
    item.members.length > 0 &&
    text.slice(prev.end, item.start).trim() === "," &&
    startsLine(text, prev.end - 1);
  if (glued && item.kind === "object") {
    const lastMember = item.members.at(-1);
    if (lastMember) {
      const contentLineEnd = lineEnd(text, lastMember.end);
      if (
        onlyTrivia(text, doc.comments, lastMember.end, contentLineEnd) &&
        item.end - 1 > contentLineEnd
      ) {
        const start = withMarkerAbove(text, lineStart(text, prev.end - 1), email);
        return [{ start, end: nextLineStart(text, lastMember.end), insert: "" }];
      }
    }
  }

  const end = commaAfter ?? item.end;
  const clean =
    startsLine(text, item.start) &&
    onlyTrivia(text, doc.comments, item.end, commaAfter ?? item.end) &&
    onlyTrivia(text, doc.comments, end + (commaAfter === undefined ? 0 : 1), lineEnd(text, end)) &&
    lineEnd(text, end) < array.end - 1;
  if (clean) {
    const start = withMarkerAbove(text, lineStart(text, item.start), email);
    const edits: Edit[] = [{ start, end: nextLineStart(text, end), insert: "" }];
    const prevComma = array.commas[index - 1];
    if (commaAfter === undefined && prevComma !== undefined) {
      edits.push({ start: prevComma, end: prevComma + 1, insert: "" });
    }
    if (array.items.length === 1 && text.slice(array.start + 1, start).trim() === "") {
      // The only client goes and nothing but blank space is left: back to "[]".
      const after = nextLineStart(text, end);
      if (text.slice(after, array.end - 1).trim() === "") {
        return [{ start: array.start + 1, end: array.end - 1, insert: "" }];
      }
    }
    return edits;
  }

  if (next) return [{ start: item.start, end: next.start, insert: "" }];
  if (prev) return [{ start: prev.end, end: item.end, insert: "" }];
  return [{ start: item.start, end: item.end, insert: "" }];
}

/** Extends a removal that starts at a line start up over a marker line naming the email. */
function withMarkerAbove(text: string, start: number, email: string): number {
  if (start === 0) return start;
  const above = lineStart(text, start - 1);
  return isMarkerFor(text.slice(above, start), email) ? above : start;
}
