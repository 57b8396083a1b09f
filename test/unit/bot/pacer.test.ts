import { test } from "node:test";
import assert from "node:assert/strict";
import { Pacer } from "../../../src/bot/pacer.js";

function clock() {
  let now = 0;
  const waits: number[] = [];
  return {
    now: () => now,
    wait: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
    waits,
  };
}

test("spaces messages 40 ms apart overall and one second apart per chat", async () => {
  const c = clock();
  const p = new Pacer(40, 1000, c.now, c.wait);
  await p.global();
  await p.global();
  await p.global();
  assert.deepEqual(c.waits, [40, 40]);
  await p.chat(1);
  await p.chat(2);
  await p.chat(1);
  assert.deepEqual(c.waits.slice(2), [1000]);
});

test("concurrent callers get distinct slots", async () => {
  const c = clock();
  const p = new Pacer(40, 1000, () => 0, c.wait);
  await Promise.all([p.global(), p.global(), p.global()]);
  assert.deepEqual(c.waits, [40, 80]);
});
