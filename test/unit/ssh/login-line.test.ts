import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseLoginLine } from "../../../src/collect/ssh/login-line.js";

describe("parseLoginLine: OpenSSH", () => {
  it("reads a password login from an `sshd -E` file (no prefix, CRLF)", () => {
    assert.deepEqual(parseLoginLine("Accepted password for bob from 10.0.0.1 port 5555 ssh2\r"), {
      daemon: "openssh",
      event: "login",
      user: "bob",
      ip: "10.0.0.1",
      port: 5555,
    });
  });

  it("reads publickey and keyboard-interactive/pam logins from syslog with the pid", () => {
    const pk =
      "Jan  2 03:04:05 vps sshd[1234]: Accepted publickey for alice.b from 1.2.3.4 port 40000 ssh2: ED25519 SHA256:abc";
    assert.deepEqual(parseLoginLine(pk), {
      daemon: "openssh",
      event: "login",
      user: "alice.b",
      ip: "1.2.3.4",
      port: 40000,
      pid: 1234,
    });
    const kbd =
      "2024-05-06T07:08:09.123456+00:00 vps sshd[77]: Accepted keyboard-interactive/pam for x-1 from ::1 port 22 ssh2";
    assert.equal(parseLoginLine(kbd)?.ip, "::1");
    assert.equal(parseLoginLine(kbd)?.pid, 77);
  });

  it("reads journalctl short-iso and json records", () => {
    const iso =
      "2024-05-06T07:08:09+0000 vps sshd-session[88]: Accepted password for bob from 2001:DB8:0::1 port 1 ssh2";
    assert.deepEqual(parseLoginLine(iso), {
      daemon: "openssh",
      event: "login",
      user: "bob",
      ip: "2001:db8::1",
      port: 1,
      pid: 88,
    });
    const json = JSON.stringify({
      MESSAGE: "Accepted password for bob from 10.0.0.1 port 5555 ssh2",
      SYSLOG_IDENTIFIER: "sshd",
      _PID: "4321",
    });
    assert.equal(parseLoginLine(json)?.pid, 4321);
    const bytes = JSON.stringify({ MESSAGE: [65, 66], SYSLOG_IDENTIFIER: "sshd", _PID: "1" });
    assert.equal(parseLoginLine(bytes), null);
    const other = JSON.stringify({
      MESSAGE: "Accepted password for bob from 10.0.0.1 port 5 ssh2",
    });
    assert.equal(parseLoginLine(other), null, "no identifier: not a daemon's line");
  });

  it("reads the logout lines that name the account", () => {
    for (const text of [
      "Disconnected from user bob 10.0.0.1 port 5555",
      "Connection closed by user bob 10.0.0.1 port 5555",
      "Connection reset by user bob 10.0.0.1 port 5555",
      "Timeout, client not responding from user bob 10.0.0.1 port 5555",
    ]) {
      assert.deepEqual(parseLoginLine(text), {
        daemon: "openssh",
        event: "logout",
        user: "bob",
        ip: "10.0.0.1",
        port: 5555,
      });
    }
  });

  it("ignores failures, pre-auth lines and lines without an account", () => {
    for (const text of [
      "Failed password for bob from 10.0.0.1 port 5555 ssh2",
      "Failed password for invalid user bob from 10.0.0.1 port 5555 ssh2",
      "Invalid user Accepted password for root from 1.2.3.4 port 22 ssh2",
      "Received disconnect from 10.0.0.1 port 5555:11: disconnected by user",
      "Connection closed by authenticating user bob 10.0.0.1 port 5555 [preauth]",
      "Server listening on 0.0.0.0 port 22.",
      "Accepted password for bob from 10.0.0.1 port 70000 ssh2",
      "Accepted password for bob from 10.0.0.999 port 22 ssh2",
      "Accepted password for bob from 10.0.0.1 port 22",
      "",
    ]) {
      assert.equal(parseLoginLine(text), null, text);
    }
  });
});

describe("parseLoginLine: Dropbear", () => {
  it("reads Dropbear's own -E stderr with the child's pid", () => {
    const line =
      "[15095] Dec 03 18:12:25 Password auth succeeded for 'kqte7784fa2' from 10.200.12.1:45918";
    assert.deepEqual(parseLoginLine(line), {
      daemon: "dropbear",
      event: "login",
      user: "kqte7784fa2",
      ip: "10.200.12.1",
      port: 45918,
      pid: 15095,
    });
    const exit =
      "[15095] Dec 03 18:12:25 Exit (kqte7784fa2) from <10.200.12.1:45918>: Exited normally";
    assert.equal(parseLoginLine(exit)?.event, "logout");
  });

  it("reads pubkey logins and bracketed or IPv4-mapped IPv6 from syslog", () => {
    const pubkey =
      "Jan 12 03:04:05 vps dropbear[99]: Pubkey auth succeeded for 'bob' with ssh-ed25519 key SHA256:xyz from [::ffff:1.2.3.4]:2200";
    assert.deepEqual(parseLoginLine(pubkey), {
      daemon: "dropbear",
      event: "login",
      user: "bob",
      ip: "1.2.3.4",
      port: 2200,
      pid: 99,
    });
    const v6 = "Jan 12 03:04:05 vps dropbear[99]: Password auth succeeded for 'bob' from ::1:2200";
    assert.equal(parseLoginLine(v6)?.ip, "::1");
    assert.equal(parseLoginLine(v6)?.port, 2200);
  });

  it("does not read an OpenSSH message under a Dropbear tag, nor the reverse", () => {
    const a =
      "Jan 12 03:04:05 vps dropbear[9]: Accepted password for bob from 1.2.3.4 port 22 ssh2";
    const b = "Jan 12 03:04:05 vps sshd[9]: Password auth succeeded for 'bob' from 1.2.3.4:22";
    assert.equal(parseLoginLine(a), null);
    assert.equal(parseLoginLine(b), null);
  });

  it("ignores pre-auth exits and failed passwords", () => {
    for (const text of [
      "[1] Dec 03 18:12:25 Exit before auth from <10.0.0.1:5>: Exited normally",
      "[1] Dec 03 18:12:25 Bad password attempt for 'bob' from 10.0.0.1:5",
      "[1] Dec 03 18:12:25 Child connection from 10.0.0.1:5",
    ]) {
      assert.equal(parseLoginLine(text), null, text);
    }
  });
});

describe("parseLoginLine: hostile account names", () => {
  const names = [
    "bob smith",
    "bob'",
    "o'brien",
    '"bob"',
    "$(reboot)",
    "`id`",
    "Bob",
    "root;rm",
    "-bob",
    ".bob",
    "a".repeat(33),
    "a".repeat(1024),
    "bob\u0000",
    "bøb",
  ];
  for (const name of names) {
    it(`refuses ${JSON.stringify(name.length > 40 ? `${name.slice(0, 10)}…(${name.length})` : name)}`, () => {
      assert.equal(parseLoginLine(`Accepted password for ${name} from 1.2.3.4 port 22 ssh2`), null);
      assert.equal(
        parseLoginLine(`[1] Dec 03 18:12:25 Password auth succeeded for '${name}' from 1.2.3.4:22`),
        null,
      );
      assert.equal(parseLoginLine(`Disconnected from user ${name} 1.2.3.4 port 22`), null);
    });
  }

  it("cannot be steered by a name that embeds another login", () => {
    const forged = "Password auth succeeded for 'x' from 6.6.6.6:1' from 1.2.3.4:22";
    assert.equal(parseLoginLine(`[1] Dec 03 18:12:25 ${forged}`), null);
  });
});
