import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { addClient, removeClient } from "../../../src/accounts/config-edit.js";
import { readXrayConfig, type XrayConfig } from "../../../src/accounts/xray-config.js";
import { OperatorError } from "../../../src/core/errors.js";

const fixture = (name: string) => readFileSync(`test/fixtures/xray/${name}`, "utf8");
const FIXTURES = {
  "autoscript-v2ray.json": fixture("autoscript-v2ray.json"),
  "xray-multi.json": fixture("xray-multi.json"),
};

/** The same configs with CRLF line breaks and with tab indentation. */
function variants(): [string, string][] {
  return Object.entries(FIXTURES).flatMap(([name, text]): [string, string][] => [
    [name, text],
    [`${name} (CRLF)`, text.replace(/\n/g, "\r\n")],
    [`${name} (tabs)`, text.replace(/^( {2})+/gm, (m) => "\t".repeat(m.length / 2))],
  ]);
}

function clientsByInbound(config: XrayConfig): Record<string, string[]> {
  return Object.fromEntries(
    config.inbounds.map((i) => [
      i.tag ?? "",
      i.clients.map((c) => `${c.email}:${c.id ?? c.password}`),
    ]),
  );
}

const NEW_CLIENT = { id: "3f6c1b9a-2d4e-4f8a-9b7c-1e2d3c4b5a69", email: "zaki", level: 0 };

test("adding then removing a client gives back the file byte for byte, in every inbound", () => {
  for (const [name, text] of variants()) {
    for (const inbound of readXrayConfig(text).inbounds) {
      if (!inbound.multiUser || inbound.tag === null) continue;
      const added = addClient(text, inbound.tag, NEW_CLIENT);
      const before = clientsByInbound(readXrayConfig(text));
      const after = clientsByInbound(readXrayConfig(added));
      before[inbound.tag]!.push(`zaki:${NEW_CLIENT.id}`);
      assert.deepEqual(after, before, `${name} ${inbound.tag}: only the new client differs`);
      const removed = removeClient(added, "ZAKI");
      assert.deepEqual(removed.removedFrom, [inbound.tag]);
      assert.equal(removed.text, text, `${name} ${inbound.tag}: round trip`);
    }
  }
});

test("adds in the layout of the clients already there", () => {
  const text = FIXTURES["autoscript-v2ray.json"];
  const vmess = addClient(text, "vmess-ws", { id: "u", email: "zaki" });
  assert.ok(
    vmess.includes(
      '            "email": "citra"\n          },\n          {\n            "id": "u",\n            "email": "zaki"\n          }\n        ]',
    ),
  );
  const trojan = addClient(text, "trojan-ws", { password: "p", email: "zaki" });
  assert.ok(
    trojan.includes(
      '"email": "dedi" }, // paid until March\n          { "password": "p", "email": "zaki" }\n        ],',
    ),
    "the comment stays on its client's line",
  );
  const empty = addClient(FIXTURES["xray-multi.json"], "vmess-grpc", { id: "u", email: "zaki" });
  assert.ok(empty.includes('"clients": [\n          {"id": "u", "email": "zaki"}\n        ]'));
  const commented = addClient(FIXTURES["xray-multi.json"], "trojan-hu", {
    password: "p",
    email: "zaki",
  });
  assert.ok(
    commented.includes('// none yet\n          {"password": "p", "email": "zaki"}\n        ]'),
  );
});

test("removes an autoscript client together with its marker line and leaves the others' markers", () => {
  const text = FIXTURES["autoscript-v2ray.json"];
  const { text: withoutAndi } = removeClient(text, "andi");
  assert.ok(!withoutAndi.includes("### andi"));
  assert.ok(!withoutAndi.includes('"email": "andi"'));
  assert.ok(
    withoutAndi.includes(
      '"email": "admin-vless"\n#vless\n#& budi 2026-11-30\n},{"id": "5b0e9f3c-7a2d-4d7e-8f61-9b3c2a1d0e47","email": "budi"\n          }',
    ),
  );
  const { text: withoutBudi } = removeClient(text, "budi");
  assert.ok(
    withoutBudi.includes(
      '### andi 2026-12-31\n},{"id": "0a6f4c0e-3b59-4c1e-9d57-2d8a5e0d3c11","email": "andi"\n          }\n        ]',
    ),
  );
  assert.ok(!withoutBudi.includes("budi"));
  const { text: withoutCitra } = removeClient(text, "citra");
  assert.ok(!withoutCitra.includes("### citra"));
  assert.ok(
    withoutCitra.includes('"email": "admin-vmess"\n          }\n        ]'),
    "the comma before goes too",
  );
});

test("removes one email from every inbound that holds it, and nothing when none does", () => {
  const text = FIXTURES["xray-multi.json"];
  const result = removeClient(text, "gita");
  assert.deepEqual(result.removedFrom, ["ss-2022", "vmess-tcp"]);
  const after = readXrayConfig(result.text);
  assert.ok(after.inbounds.every((i) => i.clients.every((c) => c.email !== "gita")));
  assert.ok(result.text.includes("// first paying customer"));
  assert.deepEqual(removeClient(text, "nobody-here"), { text, removedFrom: [] });
});

test("leaves the single-user shadowsocks inbound of V2Ray alone and refuses to add to it", () => {
  const text = FIXTURES["autoscript-v2ray.json"];
  assert.deepEqual(removeClient(text, "eko").removedFrom, []);
  assert.throws(() => addClient(text, "ss-in", { password: "p", email: "zaki" }), OperatorError);
});

test("refuses an unknown or repeated inbound tag", () => {
  assert.throws(
    () => addClient(FIXTURES["xray-multi.json"], "nope", NEW_CLIENT),
    /no inbound tagged "nope"/,
  );
  const twice = JSON.stringify({
    inbounds: [
      { tag: "t", protocol: "vless", settings: { clients: [] } },
      { tag: "t", protocol: "vless", settings: { clients: [] } },
    ],
  });
  assert.throws(() => addClient(twice, "t", NEW_CLIENT), /2 inbounds tagged "t"/);
});

test("edits inline arrays token by token", () => {
  const text =
    '{"inbounds":[{"tag":"a","protocol":"vless","settings":{"clients":[{"id":"1","email":"x"},{"id":"2","email":"y"}]}}]}';
  const added = addClient(text, "a", { id: "3", email: "z" });
  assert.ok(added.includes('{"id":"2","email":"y"}, {"id": "3", "email": "z"}]'));
  assert.equal(removeClient(added, "z").text, text);
  assert.ok(removeClient(text, "x").text.includes('"clients":[{"id":"2","email":"y"}]'));
  assert.ok(removeClient(text, "y").text.includes('"clients":[{"id":"1","email":"x"}]'));
});

test("property: any sequence of adds undone in reverse restores the file", () => {
  const text = FIXTURES["autoscript-v2ray.json"];
  const tags = ["vless-ws", "vmess-ws", "trojan-ws"];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...tags), { minLength: 1, maxLength: 6 }), (targets) => {
      let current = text;
      targets.forEach((tag, i) => {
        current = addClient(current, tag, { id: `id-${i}`, email: `new${i}` });
      });
      for (let i = targets.length - 1; i >= 0; i--) current = removeClient(current, `new${i}`).text;
      assert.equal(current, text);
    }),
    { numRuns: 200 },
  );
});

const V2RAY = "/usr/bin/v2ray";

test(
  "V2Ray 4.34 loads the config after an add and after a remove",
  { skip: !existsSync(V2RAY) && "no /usr/bin/v2ray" },
  () => {
    const dir = mkdtempSync(join(tmpdir(), "kuota-edit-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=vpn.example.com",
        "-days",
        "2",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    const base = FIXTURES["autoscript-v2ray.json"]
      .replaceAll("/etc/xray/xray.crt", join(dir, "cert.pem"))
      .replaceAll("/etc/xray/xray.key", join(dir, "key.pem"))
      .replaceAll("/var/log/xray/", `${dir}/`);
    const edited = removeClient(addClient(base, "vless-ws", NEW_CLIENT), "andi").text;
    for (const [name, text] of [
      ["base.json", base],
      ["edited.json", edited],
    ] as const) {
      writeFileSync(join(dir, name), text);
      const out = execFileSync(V2RAY, ["-test", "-config", join(dir, name)], { encoding: "utf8" });
      assert.match(out, /Configuration OK/);
    }
  },
);
