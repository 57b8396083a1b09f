import { test } from "node:test";
import assert from "node:assert/strict";
import { LINKTYPE, networkPacket } from "../../../src/capture/link-layer.js";
import { nflogPayload } from "../../../src/capture/nflog.js";
import { ethernetFrame, ipPacket, nflogRecord } from "./build.js";

const ip = ipPacket({ seq: 1, payload: Uint8Array.of(9, 9, 9) });

test("takes the packet from the NFLOG payload attribute after other attributes", () => {
  assert.deepEqual(networkPacket(LINKTYPE.NFLOG, nflogRecord(ip)), ip);
});

test("returns null for NFLOG records without a payload or with a broken attribute length", () => {
  assert.equal(nflogPayload(Uint8Array.of(2, 0, 0, 41, 8, 0, 10, 0, 0, 0, 0, 0)), null);
  assert.equal(nflogPayload(Uint8Array.of(2, 0, 0, 41, 2, 0, 9, 0)), null);
  assert.equal(nflogPayload(Uint8Array.of(2, 0, 0, 41, 200, 0, 9, 0, 1)), null);
});

test("strips Ethernet, VLAN-tagged Ethernet, Linux cooked v1 and v2 headers", () => {
  // Ethernet pads short frames; the IP total length trims that later.
  assert.deepEqual(networkPacket(LINKTYPE.ETHERNET, ethernetFrame(ip))?.subarray(0, ip.length), ip);
  const tagged = new Uint8Array(18 + ip.length);
  tagged.set([0x81, 0x00, 0, 5, 0x08, 0x00], 12);
  tagged.set(ip, 18);
  assert.deepEqual(networkPacket(LINKTYPE.ETHERNET, tagged), ip);
  const sll = new Uint8Array(16 + ip.length);
  sll.set([0x08, 0x00], 14);
  sll.set(ip, 16);
  assert.deepEqual(networkPacket(LINKTYPE.LINUX_SLL, sll), ip);
  const sll2 = new Uint8Array(20 + ip.length);
  sll2.set([0x86, 0xdd], 0);
  sll2.set(ip, 20);
  assert.deepEqual(networkPacket(LINKTYPE.LINUX_SLL2, sll2), ip);
  assert.deepEqual(networkPacket(LINKTYPE.RAW, ip), ip);
});

test("returns null for ARP, short frames and unknown link types", () => {
  const arp = ethernetFrame(ip);
  arp.set([0x08, 0x06], 12);
  assert.equal(networkPacket(LINKTYPE.ETHERNET, arp), null);
  assert.equal(networkPacket(LINKTYPE.ETHERNET, new Uint8Array(5)), null);
  assert.equal(networkPacket(147, ip), null);
});
