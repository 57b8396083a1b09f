import { test } from "node:test";
import assert from "node:assert/strict";
import { parseHttpRequest } from "../../../src/capture/http-request.js";
import { ascii } from "./build.js";

const parse = (text: string, max?: number) => parseHttpRequest(ascii(text), max);

test("reads Host and path of a request", () => {
  assert.deepEqual(parse("GET /a?b=c HTTP/1.1\r\nhOsT: Example.COM:8080\r\nAccept: */*\r\n\r\n"), {
    kind: "request",
    method: "GET",
    host: "example.com",
    path: "/a?b=c",
  });
});

test("reads X-Forwarded-Host (first entry) and X-Real-Host, names in any case", () => {
  const result = parse(
    "POST /x HTTP/1.1\r\nHost: origin.example\r\nx-forwarded-HOST: cdn.example, edge.example\r\n" +
      "X-Real-Host: real.example\r\n\r\n",
  );
  assert.deepEqual(result, {
    kind: "request",
    method: "POST",
    host: "origin.example",
    path: "/x",
    forwardedHost: "cdn.example",
    realHost: "real.example",
  });
});

test("waits for the end of the header block", () => {
  assert.equal(parse("GE").kind, "need-more");
  assert.equal(parse("GET /vless HTTP/1.1\r\nX-Pad: aaaa").kind, "need-more");
  assert.equal(parse("GET /vless HTTP/1.1\r\nHost: a.example\r\n").kind, "need-more");
  assert.equal(parse("GET /vless HTTP/1.1\r\nHost: a.example\r\n\r\n").kind, "request");
  assert.equal(parse("GET / HTTP/1.0\n\n").kind, "request");
});

test("reads the complete lines once the head bound is reached", () => {
  const result = parse(`GET / HTTP/1.1\r\nHost: a.example\r\nX-Pad: ${"p".repeat(300)}`, 200);
  assert.equal(result.kind === "request" && result.host, "a.example");
});

test("takes the host from absolute-form targets and CONNECT", () => {
  const proxy = parse("GET http://Proxy.Example:81/p?q HTTP/1.1\r\nHost: other.example\r\n\r\n");
  assert.deepEqual(proxy.kind === "request" && [proxy.host, proxy.path], ["proxy.example", "/p?q"]);
  const tunnel = parse("CONNECT tunnel.example:443 HTTP/1.1\r\n\r\n");
  assert.equal(tunnel.kind === "request" && tunnel.host, "tunnel.example");
  const v6 = parse("GET / HTTP/1.1\r\nHost: [FD77::1]:80\r\n\r\n");
  assert.equal(v6.kind === "request" && v6.host, "fd77::1");
});

test("cuts paths at 1 KiB and leaves out unusable hosts", () => {
  const long = parse(`GET /${"x".repeat(5000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
  assert.equal(long.kind === "request" && long.path.length, 1024);
  const bad = parse("GET / HTTP/1.1\r\nHost: a b\r\nX-Forwarded-Host: ../etc\r\n\r\n");
  assert.deepEqual(bad, { kind: "request", method: "GET", host: null, path: "/" });
});

test("says not-http for other protocols and malformed request lines", () => {
  for (const text of [
    "\x16\x03\x01",
    "SSH-2.0-OpenSSH\r\n",
    "get / HTTP/1.1\r\n",
    "GET / HTTP/2\r\n",
    "GET  / HTTP/1.1\r\n",
    "GETX / HTTP/1.1\r\n",
  ]) {
    assert.equal(parse(text).kind, "not-http", JSON.stringify(text));
  }
});
