import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LOCALES, createI18n, translatorFor } from "../../../src/bot/locales.js";

/** Message keys of a Fluent file, each with the variables its text uses. */
function messages(locale: string): Map<string, Set<string>> {
  const text = readFileSync(join("locales", `${locale}.ftl`), "utf8");
  const out = new Map<string, Set<string>>();
  let current: Set<string> | null = null;
  for (const line of text.split("\n")) {
    const key = /^([a-z][a-z0-9-]*)\s*=/.exec(line);
    if (key) {
      current = new Set();
      assert.ok(!out.has(key[1] as string), `${locale}: ${key[1]} defined twice`);
      out.set(key[1] as string, current);
    } else if (!/^\s/.test(line)) current = null;
    for (const v of line.matchAll(/\{\s*\$([a-zA-Z]+)/g)) current?.add(v[1] as string);
  }
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("en and id have the same keys, each with the same variables", () => {
  const en = messages("en");
  const id = messages("id");
  assert.deepEqual([...id.keys()].sort(), [...en.keys()].sort());
  for (const [key, vars] of en)
    assert.deepEqual([...(id.get(key) ?? [])].sort(), [...vars].sort(), key);
});

test("every key the bot's code uses exists in both locales", () => {
  const en = messages("en");
  const used = new Set<string>();
  for (const file of sources("src/bot")) {
    const code = readFileSync(file, "utf8");
    for (const m of code.matchAll(/\bt\(\s*"([a-z0-9-]+)"/g)) used.add(m[1] as string);
  }
  assert.ok(used.size > 80, `only ${used.size} keys found; is the scan broken?`);
  const missing = [...used].filter((k) => !en.has(k));
  assert.deepEqual(missing, []);
});

test("every message formats in every language without leftover placeables", () => {
  const i18n = createI18n("en", () => undefined);
  for (const locale of LOCALES) {
    const t = translatorFor(i18n, locale);
    for (const [key, vars] of messages(locale)) {
      const values = Object.fromEntries([...vars].map((v) => [v, v === "count" ? 2 : "x"]));
      const out = t(key, values);
      assert.ok(out.length > 0, `${locale} ${key}`);
      assert.doesNotMatch(out, /\{|\}|\u2068|\u2069/, `${locale} ${key}: ${out}`);
    }
  }
});

test("messages use only the HTML tags Telegram accepts, balanced", () => {
  for (const locale of LOCALES) {
    const t = translatorFor(
      createI18n("en", () => undefined),
      locale,
    );
    for (const [key, vars] of messages(locale)) {
      const out = t(key, Object.fromEntries([...vars].map((v) => [v, 1])));
      const tags = out.match(/<[^>]*>/g) ?? [];
      const stack: string[] = [];
      for (const tag of tags) {
        const m = /^<(\/?)(b|i|code|pre)>$/.exec(tag);
        assert.ok(m, `${locale} ${key}: tag ${tag}`);
        if (m[1]) assert.equal(stack.pop(), m[2], `${locale} ${key}: unbalanced`);
        else stack.push(m[2] as string);
      }
      assert.deepEqual(stack, [], `${locale} ${key}: unclosed`);
    }
  }
});
