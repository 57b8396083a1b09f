import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type AddressInfo } from "node:net";
import { setTimeout } from "node:timers/promises";
import { anyEstablished, parseSsOutput } from "../../../src/collect/ssh/live-sessions.js";

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

describe("anyEstablished", () => {
  const header =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
  // 127.0.0.1:22 listening, 10.0.0.2:22 ← 10.0.0.1:40000 established, 127.0.0.1:41000 → :22 (a client)
  const tcp =
    header +
    "   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n" +
    "   1: 0200000A:0016 0100000A:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1\n" +
    "   2: 0100007F:A028 0100007F:0016 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 20 4 30 10 -1\n";
  const tcp6 =
    "  sl  local_address                         remote_address                        st\n" +
    "   0: 00000000000000000000000001000000:006D 00000000000000000000000001000000:B5C2 01 00000000:00000000\n";

  it("finds a connection established to a local SSH port, IPv4 or IPv6", async () => {
    assert.equal(await anyEstablished([22], [tcp]), true);
    assert.equal(await anyEstablished([109], [tcp, tcp6]), true);
  });

  it("ignores listening sockets and connections this host made to port 22 elsewhere", async () => {
    const onlyListenAndClient = tcp
      .split("\n")
      .filter((l) => !l.includes("0200000A"))
      .join("\n");
    assert.equal(await anyEstablished([22], [onlyListenAndClient]), false);
    assert.equal(await anyEstablished([2222], [tcp, tcp6]), false);
    assert.equal(await anyEstablished([22], ["", "garbage\n\u0000"]), false);
  });

  it("sees a real loopback connection in /proc while it is open, and not after", async () => {
    const server = createServer((socket) => socket.on("error", () => undefined));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      assert.equal(await anyEstablished([port]), false);
      const client = connect(port, "127.0.0.1");
      await once(client, "connect");
      assert.equal(await anyEstablished([port]), true);
      client.destroy();
      server.close();
      await setTimeout(100);
      assert.equal(await anyEstablished([port]), false);
    } finally {
      server.close();
    }
  });
});
