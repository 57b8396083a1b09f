import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  JsoncSyntaxError,
  memberOf,
  parseJsonc,
  type JsonValue,
} from "../../../src/accounts/jsonc.js";

function syntaxError(text: string): JsoncSyntaxError {
  try {
    parseJsonc(text, "config.json");
  } catch (err) {
    assert.ok(err instanceof JsoncSyntaxError, `expected JsoncSyntaxError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be refused`);
}

test("strips the three comment styles the engines strip", () => {
  const text = [
    "{",
    "  // line comment",
    '  "a": 1, # hash after a value',
    "#vless",
    "### bob 2026-12-31",
    '  /* block */ "b": [ /* inside */ 2 ]',
    "}",
  ].join("\n");
  const doc = parseJsonc(text);
  assert.deepEqual(doc.value, { a: 1, b: [2] });
  assert.deepEqual(
    doc.comments.map((c) => [c.style, text.slice(c.start, c.end)]),
    [
      ["line", "// line comment"],
      ["hash", "# hash after a value"],
      ["hash", "#vless"],
      ["hash", "### bob 2026-12-31"],
      ["block", "/* block */"],
      ["block", "/* inside */"],
    ],
  );
});

test("keeps // and # inside strings", () => {
  const doc = parseJsonc('{"path": "/vless#x", "url": "http://a/b#c", "esc": "q\\"//#"}');
  assert.deepEqual(doc.value, { path: "/vless#x", url: "http://a/b#c", esc: 'q"//#' });
});

test("a line comment stops before a CRLF line break", () => {
  const text = '{\r\n# note\r\n"a": 1\r\n}';
  const doc = parseJsonc(text);
  assert.equal(text.slice(doc.comments[0]!.start, doc.comments[0]!.end), "# note");
});

test("records the span of every node and member", () => {
  const text = '{ "inbounds": [ {"tag": "x"} , 7 ] }';
  const doc = parseJsonc(text);
  const inbounds = memberOf(doc.root, "inbounds");
  assert.ok(inbounds && inbounds.value.kind === "array");
  assert.equal(text.slice(inbounds.start, inbounds.end), '"inbounds": [ {"tag": "x"} , 7 ]');
  assert.deepEqual(
    inbounds.value.items.map((item) => text.slice(item.start, item.end)),
    ['{"tag": "x"}', "7"],
  );
  assert.equal(text[inbounds.value.commas[0]!], ",");
});

test("refuses trailing commas, as V2Ray 4.34 does, saying where", () => {
  const err = syntaxError('{\n  "clients": [\n    {"id": "a"},\n  ]\n}');
  assert.equal(err.line, 4);
  assert.equal(err.column, 3);
  assert.match(err.message, /^config\.json: line 4 column 3: a comma before '\]'/);
  assert.equal(syntaxError('{"a": 1,}').column, 9);
});

test("refuses what the engines refuse", () => {
  for (const bad of [
    "",
    "\ufeff{}",
    "{'a': 1}",
    '{"a": 01}',
    '{"a": 1.}',
    '{"a": "line\nbreak"}',
    '{"a": "\\x"}',
    '{"a": "\\u12"}',
    '{"a" 1}',
    "[1 2]",
    "{} {}",
    "/* open",
    '{"a": tru}',
    "[" + "[".repeat(600) + "]".repeat(601),
  ]) {
    syntaxError(bad);
  }
});

test("keeps a __proto__ key as an own property", () => {
  const value = parseJsonc('{"__proto__": {"polluted": true}}').value;
  assert.deepEqual(value, JSON.parse('{"__proto__": {"polluted": true}}') as JsonValue);
  assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
});

test("fuzz: arbitrary text throws nothing but JsoncSyntaxError (100,000 cases)", () => {
  const pieces = fc.constantFrom(
    ...'{}[],:"\\/*#\n\r\t -+.0123456789eEaux'.split(""),
    "true",
    "null",
    "false",
    "//",
    "/*",
    "*/",
    '"a"',
    "\\u00",
  );
  const jsonish = fc.array(pieces, { maxLength: 40 }).map((parts) => parts.join(""));
  const text = fc.oneof(jsonish, fc.string({ unit: "binary", maxLength: 40 }));
  fc.assert(
    fc.property(text, (input) => {
      try {
        parseJsonc(input);
      } catch (err) {
        if (!(err instanceof JsoncSyntaxError)) throw err;
      }
    }),
    { numRuns: 100_000 },
  );
});

/** Prints a value as JSON with the given comments and blanks between every two tokens. */
function printWithTrivia(value: JsonValue, trivia: string[]): string {
  let n = 0;
  const gap = () => trivia[n++ % trivia.length] ?? "";
  const print = (v: JsonValue): string => {
    if (Array.isArray(v)) return `[${gap()}${v.map((x) => print(x) + gap()).join(`,${gap()}`)}]`;
    if (v !== null && typeof v === "object") {
      const members = Object.entries(v).map(
        ([k, x]) => `${JSON.stringify(k)}${gap()}:${gap()}${print(x)}${gap()}`,
      );
      return `{${gap()}${members.join(`,${gap()}`)}}`;
    }
    return JSON.stringify(v);
  };
  return gap() + print(value) + gap();
}

test("fuzz: valid JSON, with or without comments between tokens, reads back equal (100,000 cases)", () => {
  const trivia = fc.array(
    fc.constantFrom("", " ", "\n", "\r\n", "\t", "// c //\n", "# c #\n", "/* c # // */", "#\n"),
    { minLength: 1, maxLength: 8 },
  );
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), trivia, (generated, gaps) => {
      // fast-check's JSON values are plain JSON; its type only says so less precisely.
      const value = generated as JsonValue;
      const json = JSON.stringify(value);
      assert.deepStrictEqual(parseJsonc(json).value, JSON.parse(json));
      assert.deepStrictEqual(parseJsonc(printWithTrivia(value, gaps)).value, JSON.parse(json));
    }),
    { numRuns: 100_000 },
  );
});
