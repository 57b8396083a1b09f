/** Renewal arithmetic and the checks of POST /v1/accounts/:name/expiry. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { newExpiry } from "../../../src/lifecycle/expiry.js";
import { checkExpiryRequest } from "../../../src/lifecycle/requests.js";
import { ApiError } from "../../../src/control/api-error.js";

const local = (y: number, m: number, d: number, h = 0) => new Date(y, m - 1, d, h);

test("days are added to an expiry still ahead, so renewing early loses nothing", () => {
  const now = local(2026, 12, 4, 15);
  const current = local(2026, 12, 20).toISOString();
  assert.deepEqual(newExpiry(current, { days: 30 }, now), {
    date: "2027-01-19",
    instant: local(2027, 1, 19).toISOString(),
  });
});

test("days count from today when the expiry passed or there is none", () => {
  const now = local(2026, 12, 4, 15);
  const expected = { date: "2026-12-14", instant: local(2026, 12, 14).toISOString() };
  assert.deepEqual(newExpiry(local(2026, 11, 1).toISOString(), { days: 10 }, now), expected);
  assert.deepEqual(newExpiry(null, { days: 10 }, now), expected);
});

test("a date is set outright when it is after today; never removes the expiry", () => {
  const now = local(2026, 12, 4, 15);
  assert.deepEqual(newExpiry(null, { date: "2026-12-05" }, now), {
    date: "2026-12-05",
    instant: local(2026, 12, 5).toISOString(),
  });
  assert.equal(newExpiry(local(2027, 1, 1).toISOString(), { never: true }, now), null);
  for (const date of ["2026-12-04", "2026-12-03", "2020-01-01"]) {
    assert.throws(() => newExpiry(null, { date }, now), ApiError, `${date} refused`);
  }
});

test("the new expiry is always a local midnight after now", () => {
  fc.assert(
    fc.property(
      fc.date({ min: new Date("2000-01-01"), max: new Date("2090-01-01"), noInvalidDate: true }),
      fc.option(
        fc.date({ min: new Date("2000-01-01"), max: new Date("2090-01-01"), noInvalidDate: true }),
      ),
      fc.integer({ min: 1, max: 36_500 }),
      (now, current, days) => {
        const r = newExpiry(current?.toISOString() ?? null, { days }, now);
        assert.ok(r);
        const end = new Date(r.instant);
        assert.ok(end.getTime() > now.getTime(), `${r.instant} after ${now.toISOString()}`);
        assert.equal(end.getHours() + end.getMinutes() + end.getSeconds(), 0, "local midnight");
      },
    ),
  );
});

test("the request takes exactly one of days, expires, never, each checked", () => {
  assert.deepEqual(checkExpiryRequest({ days: 30 }), { days: 30 });
  assert.deepEqual(checkExpiryRequest({ expires: "2027-02-28" }), { date: "2027-02-28" });
  assert.deepEqual(checkExpiryRequest({ never: true }), { never: true });
  const refused = [
    undefined,
    {},
    { days: 30, never: true },
    { days: 0 },
    { days: 1.5 },
    { days: "30" },
    { days: 36_501 },
    { never: false },
    { expires: "2027-02-30" },
    { expires: "2027-2-3" },
    { expires: "tomorrow" },
    { expires: 20270203 },
    [],
    "days=3",
  ];
  for (const body of refused) {
    assert.throws(
      () => checkExpiryRequest(body),
      (err: unknown) => err instanceof ApiError && err.status === 400,
      JSON.stringify(body),
    );
  }
});

test("any JSON body is answered with a request or a 400, never a crash", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (body) => {
      try {
        checkExpiryRequest(body);
      } catch (err) {
        assert.ok(err instanceof ApiError && err.status === 400, String(err));
      }
    }),
  );
});
