import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeTcpPacket } from "../../../src/capture/packet.js";
import { ethernetFrame, ipPacket } from "./build.js";

test("decodes an IPv4 TCP segment", () => {
  const segment = decodeTcpPacket(
    ipPacket({
      src: "192.0.2.7",
      dst: "198.51.100.1",
      srcPort: 51000,
      dstPort: 443,
      seq: 0xfffffff0,
      flags: "S",
    }),
  );
  assert.deepEqual(segment && { ...segment, payload: [...segment.payload] }, {
    family: 4,
    srcIp: "192.0.2.7",
    dstIp: "198.51.100.1",
    srcPort: 51000,
    dstPort: 443,
    seq: 0xfffffff0,
    syn: true,
    ack: false,
    fin: false,
    rst: false,
    payload: [],
  });
});

test("writes IPv6 addresses in RFC 5952 form", () => {
  const segment = decodeTcpPacket(
    ipPacket({ src: "2001:db8:0:0:1:0:0:1", dst: "fd77::1", seq: 5 }),
  );
  assert.equal(segment?.family, 6);
  assert.equal(segment?.srcIp, "2001:db8::1:0:0:1");
  assert.equal(segment?.dstIp, "fd77::1");
});

test("drops Ethernet padding by the IP total length", () => {
  const frame = ethernetFrame(ipPacket({ seq: 1, payload: Uint8Array.of(0x47) }));
  assert.deepEqual([...(decodeTcpPacket(frame.subarray(14))?.payload ?? [])], [0x47]);
});

test("skips fragments, UDP, truncated headers and unknown versions", () => {
  const fragment = ipPacket({ seq: 1, payload: new Uint8Array(10) });
  fragment[6] = 0x20; // more fragments
  assert.equal(decodeTcpPacket(fragment), null);
  const udp = ipPacket({ seq: 1 });
  udp[9] = 17;
  assert.equal(decodeTcpPacket(udp), null);
  assert.equal(decodeTcpPacket(ipPacket({ seq: 1 }).subarray(0, 30)), null);
  assert.equal(decodeTcpPacket(Uint8Array.of(0x55, 0, 0)), null);
  assert.equal(decodeTcpPacket(new Uint8Array(0)), null);
  const v6fragment = ipPacket({ src: "fd77::2", dst: "fd77::1", seq: 1 });
  v6fragment[6] = 44;
  assert.equal(decodeTcpPacket(v6fragment), null);
});
