// install.sh on this machine, for real (it runs as root): install, install again and find nothing
// changed, verify the installed units and logrotate rules, uninstall and find /etc/myvpn intact.
// A kuota that was installed before the test is installed again at the end (from this checkout).
// The first install of a machine compiles better-sqlite3 (about 100 s); later ones reuse
// /var/cache/kuota and take seconds.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  lstatSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { after, describe, test } from "node:test";

const INSTALL = resolve("install.sh");
const MARKER = "/etc/myvpn/kuota-install-test-marker";
const INSTALLED = [
  "/opt/kuota",
  "/usr/local/bin/kuota",
  "/etc/systemd/system/kuota-worker.service",
  "/etc/systemd/system/kuota-bot.service",
  "/etc/logrotate.d/kuota",
  "/etc/kuota",
];
const SELLER_DIRS = ["/etc/myvpn", "/etc/kuota", "/var/lib/kuota", "/var/lib/kuota-bot"];

function run(command: string, args: string[]) {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 600_000 });
  return { code: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function installSh(...args: string[]) {
  return run("bash", [INSTALL, ...args]);
}

/** One line per file under `paths`: path, type, mode, owner, and content hash or link target. */
function listing(paths: string[]): string[] {
  const lines: string[] = [];
  const visit = (path: string) => {
    const st = lstatSync(path);
    const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) lines.push(`${path} link ${meta} -> ${readlinkSync(path)}`);
    else if (st.isDirectory()) {
      lines.push(`${path} dir ${meta}`);
      for (const name of readdirSync(path).sort()) visit(join(path, name));
    } else {
      const hash = createHash("sha256").update(readFileSync(path)).digest("hex");
      lines.push(`${path} file ${meta} ${hash}`);
    }
  };
  for (const p of paths) if (existsSync(p)) visit(p);
  return lines;
}

describe("install.sh", { concurrency: false }, () => {
  const wasInstalled = existsSync("/opt/kuota");
  const hadDir = new Map(SELLER_DIRS.map((d) => [d, existsSync(d)]));
  const cacheStash = "/var/cache/kuota.install-test";

  after(() => {
    rmSync(MARKER, { force: true });
    if (wasInstalled) {
      // Put back what was here, quickly: the build cache was kept aside for this.
      if (existsSync(cacheStash) && !existsSync("/var/cache/kuota")) {
        renameSync(cacheStash, "/var/cache/kuota");
      }
      const args = existsSync("/run/systemd/system") ? [] : ["--no-start"];
      const r = installSh(...args);
      assert.equal(r.code, 0, `reinstalling failed:\n${r.stdout}\n${r.stderr}`);
    } else {
      installSh("--uninstall");
      for (const [dir, had] of hadDir) if (!had) rmSync(dir, { recursive: true, force: true });
    }
    rmSync(cacheStash, { recursive: true, force: true });
  });

  test("--help and wrong options", () => {
    const help = installSh("--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--uninstall/);
    const wrong = installSh("--frobnicate");
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /unknown option "--frobnicate"/);
    assert.equal(installSh("--purge").code, 2, "--purge without --uninstall");
  });

  test("installs kuota, its command, user, configuration, units and logrotate rules", (t) => {
    const r = installSh("--no-start");
    t.diagnostic(r.stdout);
    assert.equal(r.code, 0, `install.sh failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^== done/m);

    assert.ok(existsSync("/opt/kuota/dist/src/cli/main.js"), "the built CLI");
    assert.ok(existsSync("/opt/kuota/node_modules/better-sqlite3"), "runtime dependencies");
    assert.ok(!existsSync("/opt/kuota/node_modules/typescript"), "no dev dependencies");
    assert.match(readFileSync("/usr/local/bin/kuota", "utf8"), /exec node \/opt\/kuota\/dist\//);
    const version = run("/usr/local/bin/kuota", ["--version"]);
    assert.equal(version.stdout.trim(), "kuota 0.1.0");

    const user = run("getent", ["passwd", "kuota"]).stdout.split(":");
    assert.ok(Number(user[2]) < 1000, `kuota is a system user (uid ${user[2]})`);
    assert.equal(user[6]?.trim(), "/usr/sbin/nologin");
    const env = statSync("/etc/kuota/kuota.env");
    assert.equal((env.mode & 0o777).toString(8), "640");
    assert.equal(env.uid, 0);
    assert.equal(String(env.gid), run("getent", ["group", "kuota"]).stdout.split(":")[2]);
    for (const dir of ["/etc/myvpn", "/var/lib/kuota"]) assert.ok(existsSync(dir), dir);
  });

  test("a second run changes nothing", (t) => {
    const before = listing(INSTALLED);
    const r = installSh("--no-start");
    t.diagnostic(r.stdout);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^== done: unchanged$/m);
    assert.doesNotMatch(r.stdout, /: (written|created)/);
    assert.deepEqual(listing(INSTALLED), before);
    t.diagnostic(`${before.length} installed paths identical`);
  });

  test("the installed units pass systemd-analyze verify", () => {
    const r = run("systemd-analyze", [
      "verify",
      "/etc/systemd/system/kuota-worker.service",
      "/etc/systemd/system/kuota-bot.service",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", "no warnings");
  });

  test("logrotate accepts the rules", () => {
    const r = run("logrotate", ["--debug", "/etc/logrotate.d/kuota"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /rotating pattern: \/etc\/myvpn\/deleted\.log/);
  });

  test("--uninstall removes kuota and keeps /etc/myvpn and the configuration", () => {
    writeFileSync(MARKER, "seller data\n");
    if (wasInstalled && existsSync("/var/cache/kuota")) {
      rmSync(cacheStash, { recursive: true, force: true });
      cpSync("/var/cache/kuota", cacheStash, { recursive: true, verbatimSymlinks: true });
    }
    const r = installSh("--uninstall");
    assert.equal(r.code, 0, r.stderr);
    for (const path of INSTALLED.filter((p) => p !== "/etc/kuota")) {
      assert.ok(!existsSync(path), `${path} removed`);
    }
    assert.ok(!existsSync("/var/cache/kuota"), "build cache removed");
    assert.notEqual(run("getent", ["passwd", "kuota"]).code, 0, "user removed");
    assert.equal(readFileSync(MARKER, "utf8"), "seller data\n", "/etc/myvpn intact");
    assert.ok(existsSync("/etc/kuota/kuota.env"), "configuration kept");
    assert.match(r.stdout, /kept: \/etc\/myvpn/);
  });
});
