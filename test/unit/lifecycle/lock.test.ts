/**
 * The SSH lock's steps, without a real sshd: the password is locked before the sessions end (so
 * none can start after), and nothing that a delete removes (crontab, cron.d, the user) is touched.
 * The steps' commands are not run here; the Xray lock runs for real in test/integration/lock.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { lockSsh } from "../../../src/lifecycle/lock.js";
import type { LifecycleDeps } from "../../../src/lifecycle/deps.js";
import type { StepRunner } from "../../../src/lifecycle/steps.js";

test("an SSH lock locks the password, then ends every session, and keeps the user", async () => {
  const labels: string[] = [];
  const step: StepRunner = async (label) => {
    labels.push(label);
    return true;
  };
  const deps = { config: { sshPorts: [22] } } as unknown as LifecycleDeps;
  const locked = await lockSsh(deps, "alice", 1001, step);
  assert.equal(locked, true, "usable no more once the password is locked");
  assert.deepEqual(labels, ["lock password", "end sessions"]);
});

test("an SSH lock whose password lock failed is not reported as locked", async () => {
  const step: StepRunner = async (label) => label !== "lock password";
  const deps = { config: { sshPorts: [22] } } as unknown as LifecycleDeps;
  assert.equal(await lockSsh(deps, "alice", 1001, step), false, "the store is not marked locked");
});
