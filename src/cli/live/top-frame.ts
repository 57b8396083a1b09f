/**
 * One frame of `kuota top`, as plain lines: a pure function of the accounts, their rates and the
 * terminal's size, so it is tested without a terminal. Only ASCII is drawn (the bar is `#` and
 * `.`): sellers' servers often run with no UTF-8 locale, and every character is one column.
 */
import { compactBytes, compactDuration, compactRate } from "./units.js";

/** What the table can be sorted by; each has a key in the footer. */
export type SortKey = "rate" | "total" | "today" | "name" | "protocol";

/** Sort keys and their letters, in the order the footer lists them. */
export const SORT_KEYS: readonly { key: SortKey; letter: string }[] = [
  { key: "rate", letter: "r" },
  { key: "total", letter: "t" },
  { key: "today", letter: "d" },
  { key: "name", letter: "n" },
  { key: "protocol", letter: "p" },
];

/** The direction a sort key starts in: biggest first for figures, A to Z for text. */
export function startsDescending(key: SortKey): boolean {
  return key === "rate" || key === "total" || key === "today";
}

/** One account's line. Sizes in bytes, rates in bytes per second (null: not known yet). */
export type TopRow = {
  name: string;
  protocol: string;
  state: "active" | "locked";
  present: boolean;
  uploadPerS: number | null;
  downloadPerS: number | null;
  todayBytes: number;
  totalBytes: number;
  limitBytes: number | null;
  /** Share of the limit used (0-100+), null when unlimited. */
  percent: number | null;
};

export type TopFrameInput = {
  /** Terminal columns and rows. */
  width: number;
  height: number;
  rows: readonly TopRow[];
  sort: SortKey;
  descending: boolean;
  intervalMs: number;
  /** Local time of the data, e.g. `14:03:27`. */
  clock: string;
  /** Worker uptime (s); null when unknown. */
  workerUptimeS: number | null;
  /** Engine state in a few words, e.g. `v2ray ok`; null when unknown. */
  engine: string | null;
  /** Shown instead of the engine line while the worker does not answer. */
  problem: string | null;
  /** ANSI styles (inverse header, red/yellow rows); off for NO_COLOR and in tests. */
  color: boolean;
};

type Column = {
  title: string;
  width: number;
  align: "left" | "right";
  /** When the table is too wide, columns go in order of rank, lowest first. */
  dropRank: number;
  cell: (row: TopRow, width: number) => string;
};

const NAME_MIN = 8;
const NAME_MAX = 20;
const LIMIT_MIN = 10;
const FIGURE = 6;
/** Header, engine line and column titles above the rows; the key line below. */
const CHROME_ABOVE = 3;
const CHROME_BELOW = 1;

const PROTOCOL_SHORT: Record<string, string> = { shadowsocks: "ss" };

/** Fits `text` into `width` columns, marking a cut with `~`. */
export function fit(text: string, width: number): string {
  if (width <= 0) return "";
  if (text.length <= width) return text;
  return width === 1 ? "~" : `${text.slice(0, width - 1)}~`;
}

/** `[####......]  45% 5.00G` in `width` columns; the size and then the percent go first. */
export function limitCell(row: TopRow, width: number): string {
  if (row.limitBytes === null || row.percent === null) return fit("unlimited", width);
  const percent = `${Math.round(row.percent)}%`.padStart(4);
  const size = compactBytes(row.limitBytes).padStart(5);
  let tail = ` ${percent} ${size}`;
  if (width - tail.length < 5) tail = ` ${percent}`;
  if (width - tail.length < 5) return fit(percent.trim(), width);
  const inner = width - tail.length - 2;
  const filled = Math.round((Math.min(Math.max(row.percent, 0), 100) / 100) * inner);
  return `[${"#".repeat(filled)}${".".repeat(inner - filled)}]${tail}`;
}

function columns(): Column[] {
  const figure = (title: string, dropRank: number, value: (r: TopRow) => string): Column => ({
    title,
    width: FIGURE,
    align: "right",
    dropRank,
    cell: (r) => value(r),
  });
  return [
    {
      title: "NAME",
      width: NAME_MIN,
      align: "left",
      dropRank: 99,
      cell: (r, w) => fit(r.present ? r.name : `${r.name}?`, w),
    },
    {
      title: "PROTO",
      width: 6,
      align: "left",
      dropRank: 2,
      cell: (r, w) => fit(PROTOCOL_SHORT[r.protocol] ?? r.protocol, w),
    },
    figure("UP/s", 5, (r) => compactRate(r.uploadPerS)),
    figure("DOWN/s", 98, (r) => compactRate(r.downloadPerS)),
    figure("TODAY", 1, (r) => compactBytes(r.todayBytes)),
    figure("TOTAL", 3, (r) => compactBytes(r.totalBytes)),
    { title: "LIMIT", width: LIMIT_MIN, align: "left", dropRank: 4, cell: limitCell },
  ];
}

/** Chooses the columns that fit `width` and hands spare columns to NAME, then LIMIT. */
function layout(width: number): Column[] {
  const cols = columns();
  const used = () => cols.reduce((sum, c) => sum + c.width, 0) + cols.length - 1;
  while (used() > width && cols.length > 1) {
    const drop = cols.reduce((a, b) => (b.dropRank < a.dropRank ? b : a));
    cols.splice(cols.indexOf(drop), 1);
  }
  const name = cols.find((c) => c.title === "NAME");
  const limit = cols.find((c) => c.title === "LIMIT");
  let spare = width - used();
  if (name && spare > 0) {
    const grow = Math.min(spare, NAME_MAX - name.width);
    name.width += grow;
    spare -= grow;
  }
  if (spare > 0) (limit ?? name ?? cols[0]!).width += spare;
  if (name && used() > width) name.width = Math.max(1, name.width - (used() - width));
  return cols;
}

function renderLine(cells: string[], cols: Column[]): string {
  return cells
    .map((text, i) => {
      const col = cols[i]!;
      const cut = fit(text, col.width);
      return col.align === "right" ? cut.padStart(col.width) : cut.padEnd(col.width);
    })
    .join(" ");
}

function rate(row: TopRow): number {
  return (row.uploadPerS ?? 0) + (row.downloadPerS ?? 0);
}

/** Sorts rows by `key`; ties fall back to the account name. */
export function sortRows(rows: readonly TopRow[], key: SortKey, descending: boolean): TopRow[] {
  const byKey = (a: TopRow, b: TopRow): number => {
    switch (key) {
      case "rate":
        return rate(a) - rate(b);
      case "total":
        return a.totalBytes - b.totalBytes;
      case "today":
        return a.todayBytes - b.todayBytes;
      case "name":
        return a.name.localeCompare(b.name);
      case "protocol":
        return a.protocol.localeCompare(b.protocol);
    }
  };
  const sign = descending ? -1 : 1;
  return [...rows].sort((a, b) => sign * byKey(a, b) || a.name.localeCompare(b.name));
}

const STYLE = { inverse: "\x1b[7m", red: "\x1b[31m", yellow: "\x1b[33m", dim: "\x1b[2m" };
const RESET = "\x1b[0m";

function rowStyle(row: TopRow): string | null {
  if (row.state === "locked" || (row.percent !== null && row.percent >= 100)) return STYLE.red;
  if (row.percent !== null && row.percent >= 90) return STYLE.yellow;
  if (!row.present) return STYLE.dim;
  return null;
}

/**
 * Renders the frame: at most `height` lines, none wider than `width` columns (ANSI styles, when
 * on, wrap whole lines and take no columns). Rows that do not fit are counted in the key line.
 */
export function renderTopFrame(input: TopFrameInput): string[] {
  const { width, height } = input;
  const style = (text: string, code: string | null) =>
    input.color && code !== null ? `${code}${text}${RESET}` : text;
  const rows = sortRows(input.rows, input.sort, input.descending);
  const up = input.rows.reduce((s, r) => s + (r.uploadPerS ?? 0), 0);
  const down = input.rows.reduce((s, r) => s + (r.downloadPerS ?? 0), 0);
  const worker =
    input.workerUptimeS === null ? "worker ?" : `worker up ${compactDuration(input.workerUptimeS)}`;
  const header =
    `kuota top  ${input.clock}  ${input.rows.length} accounts  ` +
    `up ${compactBytes(up)}/s  down ${compactBytes(down)}/s  ${worker}`;
  const order = input.descending ? "high-low" : "low-high";
  const second =
    input.problem !== null
      ? `! ${input.problem}`
      : `engine ${input.engine ?? "?"}  every ${(input.intervalMs / 1000).toFixed(1)}s  ` +
        `sort ${input.sort} ${order}`;

  const cols = layout(width);
  const titles = renderLine(
    cols.map((c) => c.title),
    cols,
  );
  const room = Math.max(0, height - CHROME_ABOVE - CHROME_BELOW);
  const shown = rows.slice(0, room);
  const keys =
    "q quit  sort: " + SORT_KEYS.map((k) => `${k.letter} ${k.key}`).join("  ") + " (again: flip)";
  const count = shown.length < rows.length ? `${shown.length}/${rows.length} shown` : "";
  const footer =
    count === ""
      ? fit(keys, width)
      : `${fit(keys, Math.max(0, width - count.length - 1)).padEnd(width - count.length)}${count}`;

  const lines = [
    style(fit(header, width), null),
    style(fit(second, width), input.problem !== null ? STYLE.red : null),
    style(fit(titles, width).padEnd(width), STYLE.inverse),
    ...shown.map((r) =>
      style(
        fit(
          renderLine(
            cols.map((c) => c.cell(r, c.width)),
            cols,
          ),
          width,
        ).trimEnd(),
        rowStyle(r),
      ),
    ),
  ];
  if (height > lines.length) {
    // The key line sits on the terminal's last line, with blank lines above it.
    while (lines.length < height - 1) lines.push("");
    lines.push(style(fit(footer, width), STYLE.dim));
  }
  return lines.slice(0, Math.max(0, height));
}
