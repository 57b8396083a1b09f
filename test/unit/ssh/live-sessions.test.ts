import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseSsOutput } from "../../../src/collect/ssh/live-sessions.js";

describe("parseSsOutput", () => {
  it("reads iproute2 6.x lines without the State column", () => {
    const text =
      '0      0      10.200.12.2:22  10.200.12.1:36812 users:(("sshd",pid=15090,fd=4),("sshd",pid=15083,fd=4))\n' +
      '0      0      10.200.12.2:109 10.200.12.1:45918 users:(("dropbear",pid=15095,fd=5))\n';
    assert.deepEqual(parseSsOutput(text), [
      {
        localIp: "10.200.12.2",
        localPort: 22,
        peerIp: "10.200.12.1",
        peerPort: 36812,
        owners: [
          { command: "sshd", pid: 15090 },
          { command: "sshd", pid: 15083 },
        ],
      },
      {
        localIp: "10.200.12.2",
        localPort: 109,
        peerIp: "10.200.12.1",
        peerPort: 45918,
        owners: [{ command: "dropbear", pid: 15095 }],
      },
    ]);
  });

  it("reads bracketed and mapped IPv6, scopes, and the ESTAB column", () => {
    const text =
      'ESTAB 0 0 [::ffff:10.0.0.2]:22 [::ffff:10.0.0.1]:4000 users:(("sshd",pid=1,fd=4))\n' +
      'ESTAB 0 0 [fe80::1]%eth0:22 [fe80::2]%eth0:4001 users:(("sshd",pid=2,fd=4))\n';
    const rows = parseSsOutput(text);
    assert.equal(rows[0]?.peerIp, "10.0.0.1");
    assert.equal(rows[1]?.peerIp, "fe80::2");
    assert.equal(rows[1]?.peerPort, 4001);
  });
});
