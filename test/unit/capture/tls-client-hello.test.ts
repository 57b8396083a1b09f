import { test } from "node:test";
import assert from "node:assert/strict";
import { parseClientHello } from "../../../src/capture/tls-client-hello.js";
import { ascii, clientHello } from "./build.js";

test("finds the SNI, lowercased and without its trailing dot", () => {
  assert.deepEqual(parseClientHello(clientHello({ host: "WWW.Example.COM." })), {
    kind: "sni",
    host: "www.example.com",
  });
});

test("finds the SNI after other extensions and across several TLS records", () => {
  const hello = clientHello({ host: "a.example", paddingBefore: 3000, recordSize: 700 });
  assert.deepEqual(parseClientHello(hello), { kind: "sni", host: "a.example" });
});

test("asks for more bytes at every cut before the SNI is complete", () => {
  const hello = clientHello({ host: "cut.example", paddingBefore: 1400, paddingAfter: 600 });
  const sniEnd = Buffer.from(hello).indexOf("cut.example") + "cut.example".length;
  for (let length = 0; length < hello.length; length++) {
    const result = parseClientHello(hello.subarray(0, length));
    const expected = length < sniEnd ? "need-more" : "sni";
    assert.equal(result.kind, expected, `at ${length} bytes`);
  }
});

test("says no-sni for a complete hello without a server_name", () => {
  assert.deepEqual(parseClientHello(clientHello({ paddingAfter: 10 })), { kind: "no-sni" });
});

test("says no-sni for a host_name that is not a host name", () => {
  for (const bad of ["", "a b", "a..b", "x".repeat(254), "é.example", "a/b"]) {
    assert.deepEqual(parseClientHello(clientHello({ host: bad })), { kind: "no-sni" }, bad);
  }
});

test("accepts underscores and digits, and the longest allowed name", () => {
  const longest = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
  assert.equal(longest.length, 253);
  for (const host of ["_dmarc.x1.example", "10.0.0.1", longest]) {
    assert.deepEqual(parseClientHello(clientHello({ host })), { kind: "sni", host });
  }
});

test("says not-tls for other protocols and broken headers", () => {
  assert.equal(parseClientHello(ascii("GET / HTTP/1.1\r\n")).kind, "not-tls");
  assert.equal(parseClientHello(Uint8Array.of(22, 2)).kind, "not-tls");
  assert.equal(parseClientHello(Uint8Array.of(22, 3, 1, 0, 0)).kind, "not-tls");
  const serverHello = clientHello({ host: "a.example" });
  serverHello[5] = 2;
  assert.equal(parseClientHello(serverHello).kind, "not-tls");
  const lying = clientHello({ host: "a.example" });
  lying[lying.length - 10] = 0xff; // an extension length past the end of the hello
  assert.notEqual(parseClientHello(lying).kind, "sni");
});

test("waits on a lone handshake byte and gives up when another record type follows", () => {
  assert.equal(parseClientHello(Uint8Array.of(22)).kind, "need-more");
  assert.equal(parseClientHello(new Uint8Array(0)).kind, "need-more");
  const hello = clientHello({ host: "a.example", paddingBefore: 100, recordSize: 50 });
  const cut = Buffer.concat([hello.subarray(0, 55), Uint8Array.of(23, 3, 3, 0, 1, 0)]);
  assert.equal(parseClientHello(cut).kind, "not-tls");
});
