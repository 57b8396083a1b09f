import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  fit,
  limitCell,
  renderTopFrame,
  sortRows,
  type TopFrameInput,
  type TopRow,
} from "../../../src/cli/live/top-frame.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function row(name: string, extra: Partial<TopRow> = {}): TopRow {
  return {
    name,
    protocol: "vless",
    state: "active",
    present: true,
    uploadPerS: 0,
    downloadPerS: 0,
    todayBytes: 0,
    totalBytes: 0,
    limitBytes: null,
    percent: null,
    ...extra,
  };
}

function frame(rows: TopRow[], extra: Partial<TopFrameInput> = {}): string[] {
  return renderTopFrame({
    width: 80,
    height: 24,
    rows,
    sort: "rate",
    descending: true,
    intervalMs: 1000,
    clock: "14:03:27",
    workerUptimeS: 7380,
    engine: "v2ray ok",
    problem: null,
    color: false,
    ...extra,
  });
}

const SAMPLE: TopRow[] = [
  row("alice", {
    uploadPerS: 12 * KiB,
    downloadPerS: 2.5 * MiB,
    todayBytes: 300 * MiB,
    totalBytes: 4.5 * GiB,
    limitBytes: 10 * GiB,
    percent: 45,
  }),
  row("bob", { protocol: "shadowsocks", uploadPerS: null, downloadPerS: null, totalBytes: 10 }),
  row("carol-with-a-very-long-account-name", {
    protocol: "ssh",
    uploadPerS: 1 * KiB,
    downloadPerS: 1 * KiB,
    limitBytes: 1 * GiB,
    percent: 104.2,
    totalBytes: 1.042 * GiB,
  }),
];

describe("renderTopFrame at 80x24", () => {
  const lines = frame(SAMPLE);

  test("fills the screen exactly, no line wider than 80 columns", () => {
    assert.equal(lines.length, 24);
    for (const line of lines) assert.ok(line.length <= 80, `${line.length}: ${line}`);
  });

  test("snapshot", () => {
    assert.deepEqual(lines.slice(0, 6), [
      "kuota top  14:03:27  3 accounts  up 13.0K/s  down 2.50M/s  worker up 2h03m",
      "engine v2ray ok  every 1.0s  sort rate high-low",
      "NAME                 PROTO    UP/s DOWN/s  TODAY  TOTAL LIMIT                   ",
      "alice                vless   12.0K  2.50M   300M  4.50G [#####......]  45% 10.0G",
      "carol-with-a-very-l~ ssh     1.00K  1.00K     0B  1.04G [###########] 104% 1.00G",
      "bob                  ss          -      -     0B    10B unlimited",
    ]);
    assert.equal(
      lines[23],
      "q quit  sort: r rate  t total  d today  n name  p protocol (again: flip)",
    );
    assert.deepEqual(lines.slice(6, 23), Array(17).fill(""));
  });

  test("counts the rows that do not fit in the key line", () => {
    const many = Array.from({ length: 30 }, (_, i) => row(`user${String(i).padStart(2, "0")}`));
    const out = frame(many, { sort: "name", descending: false });
    assert.equal(out.length, 24);
    assert.match(out[3] ?? "", /^user00 /);
    assert.match(out[22] ?? "", /^user19 /);
    assert.match(out[23] ?? "", / 20\/30 shown$/);
    assert.equal(out[23]?.length, 80);
  });

  test("says why figures stopped moving when the worker does not answer", () => {
    const out = frame(SAMPLE, { problem: "worker not answering: no socket" });
    assert.equal(out[1], "! worker not answering: no socket");
  });
});

describe("renderTopFrame in small terminals", () => {
  test("drops TODAY, then PROTO, then TOTAL as the width shrinks; never the rates", () => {
    const titles = (width: number) => frame(SAMPLE, { width })[2]?.trim().split(/\s+/);
    assert.deepEqual(titles(80), ["NAME", "PROTO", "UP/s", "DOWN/s", "TODAY", "TOTAL", "LIMIT"]);
    assert.deepEqual(titles(52), ["NAME", "PROTO", "UP/s", "DOWN/s", "TOTAL", "LIMIT"]);
    assert.deepEqual(titles(45), ["NAME", "UP/s", "DOWN/s", "TOTAL", "LIMIT"]);
    assert.deepEqual(titles(38), ["NAME", "UP/s", "DOWN/s", "LIMIT"]);
    assert.deepEqual(titles(20), ["NAME", "DOWN/s"]);
    for (const width of [10, 20, 33, 40, 57, 79, 120, 200]) {
      for (const line of frame(SAMPLE, { width })) {
        assert.ok(line.length <= width, `${width}: ${line}`);
      }
    }
  });

  test("gives up rows, not the header, when short", () => {
    const out = frame(SAMPLE, { height: 5 });
    assert.equal(out.length, 5);
    assert.match(out[3] ?? "", /^alice/);
    assert.match(out[4] ?? "", /^q quit .* 1\/3 shown$/);
    assert.equal(frame(SAMPLE, { height: 2 }).length, 2);
  });

  test("styles whole lines only when colour is on", () => {
    const out = frame(SAMPLE, { color: true });
    assert.ok(out[2]?.startsWith("\x1b[7mNAME"), "inverse column titles");
    assert.ok(out[4]?.startsWith("\x1b[31mcarol"), "over the limit reads red");
    assert.ok(!frame(SAMPLE).some((l) => l.includes("\x1b")), "no escapes without colour");
  });
});

describe("cells and sorting", () => {
  test("fit cuts with ~", () => {
    assert.equal(fit("abcdef", 4), "abc~");
    assert.equal(fit("abc", 4), "abc");
    assert.equal(fit("abc", 0), "");
  });

  test("limitCell shortens the bar, then the size, then the bar itself", () => {
    const r = row("x", { limitBytes: 5 * GiB, percent: 50 });
    assert.equal(limitCell(r, 24), "[######.....]  50% 5.00G");
    assert.equal(limitCell(r, 12), "[###..]  50%");
    assert.equal(limitCell(r, 6), "50%");
    assert.equal(limitCell(row("y"), 12), "unlimited");
  });

  test("sorts by rate, total, name and protocol, ties by name", () => {
    const rows = [
      row("b", { downloadPerS: 5, totalBytes: 1, protocol: "vmess" }),
      row("a", { uploadPerS: 5, totalBytes: 9, protocol: "vmess" }),
      row("c", { downloadPerS: 9, totalBytes: 5, protocol: "ssh" }),
    ];
    const names = (rs: TopRow[]) => rs.map((r) => r.name).join("");
    assert.equal(names(sortRows(rows, "rate", true)), "cab");
    assert.equal(names(sortRows(rows, "total", true)), "acb");
    assert.equal(names(sortRows(rows, "name", false)), "abc");
    assert.equal(names(sortRows(rows, "protocol", false)), "cab");
  });
});
