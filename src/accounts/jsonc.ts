/**
 * A reader for the engine's config dialect: JSON plus the comments V2Ray and Xray strip before
 * decoding: `//` and `#` to the end of the line and `/* ... *\/` blocks, anywhere outside a string.
 * Trailing commas are refused, because both engines refuse them ("invalid character ']' looking
 * for beginning of value"). A byte-order mark is refused for the same reason.
 *
 * Besides the value, the parse keeps where every node, comma and comment sits in the text, so that
 * edits can touch a few characters and leave the rest of the file as the seller wrote it.
 * Offsets and columns count UTF-16 code units, as JavaScript strings do.
 *
 * Written here because no package reads this dialect: jsonc-parser (VS Code's) and
 * strip-json-comments know `//` and `/* *\/` comments but not `#`, and JSON5 accepts much the
 * engines refuse (trailing commas, single quotes, unquoted keys).
 */
import { OperatorError } from "../core/errors.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

/** A stretch of the text: `start` inclusive, `end` exclusive. */
export interface Span {
  start: number;
  end: number;
}

export type JsonNode = JsonObjectNode | JsonArrayNode | JsonScalarNode;

export interface JsonObjectNode extends Span {
  kind: "object";
  members: JsonMember[];
  /** Offset of the comma after member i, for every member but the last. */
  commas: number[];
}

/** One `"key": value` pair; its span runs from the key's opening quote to the value's end. */
export interface JsonMember extends Span {
  key: string;
  value: JsonNode;
}

export interface JsonArrayNode extends Span {
  kind: "array";
  items: JsonNode[];
  /** Offset of the comma after item i, for every item but the last. */
  commas: number[];
}

export interface JsonScalarNode extends Span {
  kind: "scalar";
  value: null | boolean | number | string;
}

export interface JsonComment extends Span {
  /** `line` for `//`, `hash` for `#`, `block` for `/* *\/`. */
  style: "line" | "hash" | "block";
}

export interface JsoncDocument {
  value: JsonValue;
  root: JsonNode;
  /** Every comment in the text, in order. A line comment's span stops before the line break. */
  comments: JsonComment[];
}

/** The config text is not something the engine would load; says where, as line and column. */
export class JsoncSyntaxError extends OperatorError {
  override name = "JsoncSyntaxError";
  constructor(
    readonly source: string,
    /** 1-based. */
    readonly line: number,
    /** 1-based, in UTF-16 code units. */
    readonly column: number,
    readonly offset: number,
    readonly detail: string,
  ) {
    super(
      `${source}: line ${line} column ${column}: ${detail}`,
      "fix the file by hand, then check it with `xray -test -config FILE` or `v2ray -test -config FILE`",
    );
  }
}

/** Deeper than any real config; a guard so hostile input cannot exhaust the stack. */
const MAX_DEPTH = 512;

/**
 * Parses engine config text.
 * @param source what to call the text in error messages (a path, usually)
 * @throws JsoncSyntaxError for anything the engines would refuse to decode
 */
export function parseJsonc(text: string, source = "config"): JsoncDocument {
  const parser = new Parser(text, source);
  const root = parser.parseDocument();
  return { root, value: nodeValue(root), comments: parser.comments };
}

/** The plain value of a node; with duplicate keys the last one wins, as in Go's decoder. */
export function nodeValue(node: JsonNode): JsonValue {
  switch (node.kind) {
    case "scalar":
      return node.value;
    case "array":
      return node.items.map(nodeValue);
    case "object": {
      const out: JsonObject = {};
      for (const member of node.members) {
        // defineProperty, not assignment: a "__proto__" key must stay an own property.
        Object.defineProperty(out, member.key, {
          value: nodeValue(member.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
  }
}

/** The member of an object node with this key (the last one, if the key repeats). */
export function memberOf(node: JsonNode | undefined, key: string): JsonMember | undefined {
  if (node?.kind !== "object") return undefined;
  for (let i = node.members.length - 1; i >= 0; i--) {
    const member = node.members[i];
    if (member?.key === key) return member;
  }
  return undefined;
}

/** 1-based line and column of an offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const STAR = 0x2a;
const HASH = 0x23;
const NEWLINE = 0x0a;

function isJsonWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isHexDigit(code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

function describe(text: string, pos: number): string {
  if (pos >= text.length) return "end of file";
  return `character ${JSON.stringify(text[pos])}`;
}

class Parser {
  readonly comments: JsonComment[] = [];
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  parseDocument(): JsonNode {
    this.skipTrivia();
    const root = this.parseValue();
    this.skipTrivia();
    if (this.pos < this.text.length)
      this.fail(`unexpected ${describe(this.text, this.pos)} after the end of the config`);
    return root;
  }

  private fail(detail: string, at = this.pos): never {
    const { line, column } = lineAndColumn(this.text, at);
    throw new JsoncSyntaxError(this.source, line, column, at, detail);
  }

  /** Skips whitespace and comments, recording the comments. */
  private skipTrivia(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const code = text.charCodeAt(this.pos);
      if (isJsonWhitespace(code)) {
        this.pos++;
      } else if (code === HASH) {
        this.skipToLineEnd("hash");
      } else if (code === SLASH && text.charCodeAt(this.pos + 1) === SLASH) {
        this.skipToLineEnd("line");
      } else if (code === SLASH && text.charCodeAt(this.pos + 1) === STAR) {
        const close = text.indexOf("*/", this.pos + 2);
        if (close === -1) this.fail("a /* comment is never closed");
        this.comments.push({ style: "block", start: this.pos, end: close + 2 });
        this.pos = close + 2;
      } else {
        return;
      }
    }
  }

  private skipToLineEnd(style: "line" | "hash"): void {
    const newline = this.text.indexOf("\n", this.pos);
    let end = newline === -1 ? this.text.length : newline;
    if (end > this.pos && this.text.charCodeAt(end - 1) === 0x0d) end--;
    this.comments.push({ style, start: this.pos, end });
    this.pos = end;
  }

  private parseValue(): JsonNode {
    const code = this.text.charCodeAt(this.pos);
    if (code === 0x7b) return this.parseObject();
    if (code === 0x5b) return this.parseArray();
    if (code === QUOTE) {
      const start = this.pos;
      const value = this.parseString();
      return { kind: "scalar", value, start, end: this.pos };
    }
    if (code === 0x2d || isDigit(code)) return this.parseNumber();
    for (const [word, value] of LITERALS) {
      if (this.text.startsWith(word, this.pos)) {
        const start = this.pos;
        this.pos += word.length;
        return { kind: "scalar", value, start, end: this.pos };
      }
    }
    return this.fail(`unexpected ${describe(this.text, this.pos)}, expected a value`);
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
  }

  private parseObject(): JsonObjectNode {
    this.enter();
    const node: JsonObjectNode = {
      kind: "object",
      members: [],
      commas: [],
      start: this.pos,
      end: 0,
    };
    this.pos++;
    this.skipTrivia();
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
    } else {
      for (;;) {
        if (this.text.charCodeAt(this.pos) !== QUOTE) {
          this.fail(`unexpected ${describe(this.text, this.pos)}, expected a "key" in quotes`);
        }
        const memberStart = this.pos;
        const key = this.parseString();
        this.skipTrivia();
        if (this.text.charCodeAt(this.pos) !== 0x3a) {
          this.fail(`unexpected ${describe(this.text, this.pos)}, expected ':' after the key`);
        }
        this.pos++;
        this.skipTrivia();
        const value = this.parseValue();
        node.members.push({ key, value, start: memberStart, end: value.end });
        this.skipTrivia();
        const code = this.text.charCodeAt(this.pos);
        if (code === 0x7d) {
          this.pos++;
          break;
        }
        if (code !== 0x2c)
          this.fail(`unexpected ${describe(this.text, this.pos)}, expected ',' or '}'`);
        node.commas.push(this.pos);
        this.pos++;
        this.skipTrivia();
        if (this.text.charCodeAt(this.pos) === 0x7d)
          this.fail("a comma before '}' (the engine refuses trailing commas)");
      }
    }
    node.end = this.pos;
    this.depth--;
    return node;
  }

  private parseArray(): JsonArrayNode {
    this.enter();
    const node: JsonArrayNode = { kind: "array", items: [], commas: [], start: this.pos, end: 0 };
    this.pos++;
    this.skipTrivia();
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++;
    } else {
      for (;;) {
        node.items.push(this.parseValue());
        this.skipTrivia();
        const code = this.text.charCodeAt(this.pos);
        if (code === 0x5d) {
          this.pos++;
          break;
        }
        if (code !== 0x2c)
          this.fail(`unexpected ${describe(this.text, this.pos)}, expected ',' or ']'`);
        node.commas.push(this.pos);
        this.pos++;
        this.skipTrivia();
        if (this.text.charCodeAt(this.pos) === 0x5d)
          this.fail("a comma before ']' (the engine refuses trailing commas)");
      }
    }
    node.end = this.pos;
    this.depth--;
    return node;
  }

  /** Reads a string starting at its opening quote; leaves `pos` after the closing quote. */
  private parseString(): string {
    const text = this.text;
    const start = this.pos;
    let i = start + 1;
    let plain = true;
    for (;;) {
      if (i >= text.length) this.fail("a string is never closed", start);
      const code = text.charCodeAt(i);
      if (code === QUOTE) break;
      if (code < 0x20) {
        this.fail(
          code === NEWLINE ? "a line break inside a string" : "a control character inside a string",
          i,
        );
      }
      if (code === BACKSLASH) {
        plain = false;
        const next = text.charCodeAt(i + 1);
        if (next === 0x75) {
          for (let k = 2; k < 6; k++) {
            if (!isHexDigit(text.charCodeAt(i + k)))
              this.fail("a \\u escape needs four hex digits", i);
          }
          i += 6;
          continue;
        }
        if (!SIMPLE_ESCAPES.has(next))
          this.fail(`invalid escape ${describe(text, i + 1)} in a string`, i);
        i += 2;
        continue;
      }
      i++;
    }
    this.pos = i + 1;
    const raw = text.slice(start + 1, i);
    // Validated above, so JSON.parse only decodes the escapes.
    return plain ? raw : (JSON.parse(text.slice(start, i + 1)) as string);
  }

  private parseNumber(): JsonScalarNode {
    const text = this.text;
    const start = this.pos;
    let i = start;
    if (text.charCodeAt(i) === 0x2d) i++;
    if (text.charCodeAt(i) === 0x30) {
      i++;
    } else if (isDigit(text.charCodeAt(i))) {
      while (isDigit(text.charCodeAt(i))) i++;
    } else {
      this.fail("a '-' must be followed by digits", i);
    }
    if (text.charCodeAt(i) === 0x2e) {
      i++;
      if (!isDigit(text.charCodeAt(i)))
        this.fail("a '.' in a number must be followed by digits", i);
      while (isDigit(text.charCodeAt(i))) i++;
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = text.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      if (!isDigit(text.charCodeAt(i))) this.fail("an exponent in a number must have digits", i);
      while (isDigit(text.charCodeAt(i))) i++;
    }
    this.pos = i;
    return { kind: "scalar", value: Number(text.slice(start, i)), start, end: i };
  }
}

const LITERALS: ReadonlyArray<readonly [string, boolean | null]> = [
  ["true", true],
  ["false", false],
  ["null", null],
];

// " \ / b f n r t
const SIMPLE_ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);
