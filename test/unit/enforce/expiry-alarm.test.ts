/** The expiry alarm on node:test's mock clock (setTimeout and Date): exact to the millisecond. */
import { afterEach, mock, test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as turn } from "node:timers/promises";
import { ExpiryAlarm, EXPIRY_WAIT_MAX_MS } from "../../../src/enforce/expiry-alarm.js";
import type { Logger } from "../../../src/core/log.js";

afterEach(() => mock.timers.reset());

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await turn();
}

function rig(dates: Record<string, number | null>, onDue?: () => Promise<unknown>) {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
  const start = Date.now();
  const accounts = new Map(
    Object.entries(dates).map(([name, inMs]) => [
      name,
      { name, expiresAt: inMs === null ? null : new Date(start + inMs).toISOString() },
    ]),
  );
  const dueAt: number[] = [];
  const lines: string[] = [];
  const note = (obj: { err?: Error }, msg: string) => lines.push(`${msg}: ${obj.err?.message}`);
  const log = { debug: () => undefined, error: note } as unknown as Logger;
  const alarm = new ExpiryAlarm({
    accounts: () => accounts.values(),
    onDue: async () => {
      dueAt.push(Date.now() - start);
      await onDue?.();
    },
    log,
  });
  return { alarm, accounts, dueAt, lines };
}

test("fires at the nearest future date only, then re-arms for the next", async () => {
  const r = rig({ past: -5, soon: 300, later: 900, never: null });
  r.alarm.arm();
  mock.timers.tick(299);
  await settle();
  assert.deepEqual(r.dueAt, []);
  mock.timers.tick(1);
  await settle();
  assert.deepEqual(r.dueAt, [300]);
  r.accounts.delete("soon");
  mock.timers.tick(600);
  await settle();
  assert.deepEqual(r.dueAt, [300, 900]);
  r.accounts.delete("later");
  mock.timers.tick(10 * EXPIRY_WAIT_MAX_MS);
  await settle();
  assert.deepEqual(r.dueAt, [300, 900], "nothing ahead: no timer");
});

test("a date further than the longest wait is reached in steps, on time", async () => {
  const r = rig({ far: 2.5 * EXPIRY_WAIT_MAX_MS });
  r.alarm.arm();
  for (let t = 0; t < 2.5 * EXPIRY_WAIT_MAX_MS - 1; t += EXPIRY_WAIT_MAX_MS / 4) {
    mock.timers.tick(Math.min(EXPIRY_WAIT_MAX_MS / 4, 2.5 * EXPIRY_WAIT_MAX_MS - 1 - t));
    await settle();
  }
  assert.deepEqual(r.dueAt, []);
  mock.timers.tick(1);
  await settle();
  assert.deepEqual(r.dueAt, [2.5 * EXPIRY_WAIT_MAX_MS]);
});

test("a failed sweep is logged and the alarm stays armed for the next date", async () => {
  let fail = true;
  const r = rig({ a: 100, b: 200 }, async () => {
    if (fail) {
      fail = false;
      throw new Error("store locked");
    }
  });
  r.alarm.arm();
  mock.timers.tick(100);
  await settle();
  assert.ok(r.lines.some((l) => l.includes("expiry sweep failed") && l.includes("store locked")));
  mock.timers.tick(100);
  await settle();
  assert.deepEqual(r.dueAt, [100, 200]);
});

test("stop disarms it for good", async () => {
  const r = rig({ a: 100 });
  r.alarm.arm();
  r.alarm.stop();
  r.alarm.arm();
  mock.timers.tick(1000);
  await settle();
  assert.deepEqual(r.dueAt, []);
});
