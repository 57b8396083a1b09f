import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  nameProblem,
  parseDays,
  parseLimit,
  parseProtocol,
  passwordProblem,
  splitArgs,
} from "../../../src/bot/args.js";
import {
  callbackData,
  parseAddUserData,
  parseCallbackData,
} from "../../../src/bot/callback-data.js";
import { clip, escapeHtml } from "../../../src/bot/html.js";
import { createI18n, translatorFor } from "../../../src/bot/locales.js";
import { PROTOCOLS } from "../../../src/store/store.js";
import { ADMIN, botHarness } from "./harness.js";

// 30k + 30k + 25k + 20k + 2k + 1k = 108,000 cases.
const t = translatorFor(
  createI18n("en", () => undefined),
  "en",
);

/** Text as Telegram can deliver it: any Unicode, markup characters, up to 10 KB. */
const hostile = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 64 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.stringMatching(/^[<>&*_`[\]()~|#a-zA-Z0-9:. -]{0,80}$/),
  fc.string({
    unit: fc.constantFrom("a", "<", "&", "😀", "\u0000", "\u202e", " "),
    minLength: 9000,
    maxLength: 10240,
  }),
);

test("callback data: anything parses to an action or null, and our own data round-trips", () => {
  fc.assert(
    fc.property(hostile, (data) => {
      const a = parseCallbackData(data);
      if (a?.kind === "delete") assert.match(a.name, /^[a-z0-9][a-z0-9._-]{0,31}$/);
      if (a?.kind === "users") assert.ok(a.page >= 0 && a.page <= 10_000);
      if (a?.kind === "renew" || a?.kind === "topup")
        assert.match(a.name, /^[a-z0-9][a-z0-9._-]{0,31}$/);
      if (a?.kind === "renew") assert.ok(Number.isInteger(a.days) && a.days >= 1 && a.days <= 3650);
      parseAddUserData(data);
    }),
    { numRuns: 15_000 },
  );
  fc.assert(
    fc.property(
      fc.constantFrom("all" as const, ...PROTOCOLS),
      fc.nat(10_000),
      fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,31}$/),
      (filter, page, name) => {
        assert.deepEqual(parseCallbackData(callbackData.users(filter, page)), {
          kind: "users",
          filter,
          page,
        });
        assert.ok(Buffer.byteLength(callbackData.deleteConfirm(name)) <= 64);
        assert.deepEqual(parseCallbackData(callbackData.deleteConfirm(name)), {
          kind: "delete",
          confirm: true,
          name,
        });
        const days = (page % 3650) + 1;
        assert.ok(Buffer.byteLength(callbackData.renew(days, name)) <= 64);
        assert.deepEqual(parseCallbackData(callbackData.renew(days, name)), {
          kind: "renew",
          days,
          name,
        });
        for (const step of ["ask", "yes", "no"] as const) {
          assert.deepEqual(parseCallbackData(callbackData.topUp(step, name)), {
            kind: "topup",
            step,
            name,
          });
        }
      },
    ),
    { numRuns: 15_000 },
  );
});

test("command arguments and answers: never throw, problems are short and escaped", () => {
  fc.assert(
    fc.property(hostile, (text) => {
      const words = splitArgs(text);
      assert.ok(words.length <= 8);
      for (const w of words) assert.doesNotMatch(w, /\s/);
      const problem = nameProblem(t, text);
      if (problem !== null) {
        assert.ok(problem.length < 200, problem);
        assert.doesNotMatch(problem.replace(/&(amp|lt|gt|quot);/g, ""), /[<>&]/);
      }
      const size = parseLimit(t, text);
      if (!size.ok) assert.ok(size.problem.length < 200);
      else assert.ok(size.bytes === null || (Number.isSafeInteger(size.bytes) && size.bytes > 0));
      const days = parseDays(t, text);
      if (days.ok) assert.ok(days.days === null || (days.days >= 1 && days.days <= 3650));
      passwordProblem(t, text);
      parseProtocol(text);
    }),
    { numRuns: 30_000 },
  );
});

test("names the worker accepts are the names the bot accepts", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,31}$/), (name) => {
      assert.equal(nameProblem(t, name), null);
    }),
    { numRuns: 25_000 },
  );
});

test("escaping leaves no markup and clipping no broken character", () => {
  fc.assert(
    fc.property(hostile, fc.integer({ min: 2, max: 100 }), (text, max) => {
      const e = escapeHtml(text);
      assert.doesNotMatch(e, /[<>"]/);
      assert.doesNotMatch(e.replace(/&(amp|lt|gt|quot);/g, ""), /&/);
      const c = clip(text, max);
      assert.ok(Array.from(c).length <= max);
      assert.doesNotMatch(c, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    }),
    { numRuns: 20_000 },
  );
});

test("the bot answers hostile messages and buttons from an admin without crashing", async () => {
  const h = await botHarness();
  const errors: unknown[] = [];
  const original = h.bot.errorHandler;
  h.bot.catch((err) => {
    errors.push(err.error);
    return original(err);
  });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(
        "/usage ",
        "/limit ",
        "/renew ",
        "/delete ",
        "/hosts ",
        "/users",
        "",
        "/nope ",
        "/cancel",
      ),
      hostile,
      async (command, text) => {
        await h.send(ADMIN, (command + text).slice(0, 10240) || "x");
      },
    ),
    { numRuns: 2_000 },
  );
  await fc.assert(
    fc.asyncProperty(hostile, async (data) => {
      await h.press(ADMIN, data.slice(0, 64));
    }),
    { numRuns: 1_000 },
  );
  assert.deepEqual(errors, []);
  for (const text of h.texts()) assert.ok(text.length <= 4096);
});
