/**
 * Throw-away Linux accounts for SSH tests: named `kqt<random>`, uid >= 1000, a random password,
 * a home dir, no usable shell by default. Every account made here is deleted with `userdel -r`
 * from a root-level node:test `after()` and, as a last resort, at process exit. Accounts not made by this
 * module are never touched.
 */
import { after } from "node:test";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";

export interface TestUser {
  name: string;
  uid: number;
  password: string;
}

export interface TestUserOptions {
  /**
   * Login shell. Default /bin/false. Dropbear refuses accounts whose shell is not listed in
   * /etc/shells (Debian's lists neither /bin/false nor nologin), so Dropbear tests pass /bin/sh;
   * the account is still only reachable through the rig's own daemons.
   */
  shell?: string;
}

const created = new Set<string>();

// root-level hooks, registered at import: one registered inside `before()` would run when it ends
after(deleteAllTestUsers);
process.on("exit", () => {
  for (const name of created) spawnSync("userdel", ["-f", "-r", name]);
});

/** Creates one account. Retries while another process holds /etc/passwd's lock. */
export async function createTestUser(options: TestUserOptions = {}): Promise<TestUser> {
  const name = `kqt${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("base64url");
  await withPasswdLock(() =>
    execa("useradd", ["-m", "-K", "UID_MIN=1000", "-s", options.shell ?? "/bin/false", name]),
  );
  created.add(name);
  await withPasswdLock(() => execa("chpasswd", { input: `${name}:${password}\n` }));
  const { stdout } = await execa("id", ["-u", name]);
  const uid = Number(stdout);
  if (!(uid >= 1000)) {
    await deleteTestUser(name);
    throw new Error(`useradd gave ${name} uid ${uid}, below 1000`);
  }
  return { name, uid, password };
}

/** Deletes an account made by {@link createTestUser}; other names are refused. */
export async function deleteTestUser(name: string): Promise<void> {
  if (!created.has(name)) throw new Error(`${name} was not created by this rig`);
  // -f: a session still closing in a rig namespace must not keep the account alive
  await withPasswdLock(() => execa("userdel", ["-f", "-r", name]));
  created.delete(name);
}

/** Deletes every account this process made. */
export async function deleteAllTestUsers(): Promise<void> {
  for (const name of [...created]) await deleteTestUser(name);
}

/** useradd, chpasswd and userdel fail at once when another process edits /etc/passwd. */
async function withPasswdLock<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      if (attempt >= 20 || !/lock|try again/i.test(text)) throw err;
      await sleep(100 * attempt);
    }
  }
}
