import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "../command.js";
import { loadConfig } from "../../config/config.js";
import { ControlClient } from "../../control/client.js";
import { UsageError } from "../../core/errors.js";
import { localDateTime } from "../../core/time.js";
import { table } from "../format.js";
import type { HostView } from "../../control/api.js";

/** How often `--follow` asks the worker for new hosts, ms. */
const FOLLOW_POLL_MS = 1_000;
const PAGE = 10_000;

export const hostsCommand: Command = {
  name: "hosts",
  summary: "list the hosts clients asked for (SNI, HTTP Host, Xray destinations)",
  options: {
    since: { type: "string" },
    service: { type: "string" },
    limit: { type: "string" },
    search: { type: "string" },
    follow: { type: "boolean", short: "f" },
  },
  help: `Usage: kuota hosts [--since WHEN] [--service NAME] [--search TEXT] [--limit N] [--json]
       kuota hosts --follow [--json]

Lists hosts recorded by the worker's host capture, one row per host (names are
lowercased, a trailing dot removed), most recently seen first: the service, the
client address and account of its first sighting, how many connections used
it, when it was first and last seen (local time).

Options:
  --since WHEN     only hosts seen since WHEN: 30m, 12h, 7d, 2026-12-03 (local
                   midnight) or an ISO 8601 time
  --service NAME   only one service: SSH, VMESS, VLESS, TROJAN, SHADOWSOCKS, or a
                   port such as 8080 (case does not matter)
  --search TEXT    only hosts whose name contains TEXT
  --limit N        at most N rows (default 100, at most 10000)
  --follow, -f     print each new host as it is recorded, as the hosts.log line
                   host|service|source_ip|YYYY-MM-DD HH:MM:SS (JSON lines with
                   --json); stop with Ctrl-C
  --json           print { "hosts": [...] } as the control API answers it

Examples:
  kuota hosts
  kuota hosts --since 24h --service vless
  kuota hosts --search googlevideo --json | jq '.hosts[].host'
  kuota hosts --follow`,
  async run({ args, values, out }) {
    if (args.length > 0)
      throw new UsageError(`unexpected argument "${args[0]}"`, "see `kuota hosts --help`");
    const client = new ControlClient(loadConfig().socketPath);
    if (values.follow) return follow(client, values.json === true, out);
    const query = new URLSearchParams();
    if (typeof values.since === "string") query.set("since", parseSince(values.since));
    if (typeof values.service === "string") query.set("service", values.service);
    if (typeof values.search === "string") query.set("q", values.search);
    if (typeof values.limit === "string") {
      if (!/^\d+$/.test(values.limit) || Number(values.limit) < 1) {
        throw new UsageError(`--limit ${values.limit} is not a positive whole number`);
      }
      query.set("limit", values.limit);
    }
    const { hosts } = await client.get<{ hosts: HostView[] }>(`/v1/hosts?${query}`);
    if (values.json) {
      out(JSON.stringify({ hosts }, null, 2));
      return 0;
    }
    const rows = hosts.map((h) => [
      h.host,
      h.service,
      h.source_ip,
      h.account ?? "-",
      String(h.count),
      localDateTime(new Date(h.first_seen)),
      localDateTime(new Date(h.last_seen)),
    ]);
    const headers = ["HOST", "SERVICE", "SOURCE", "ACCOUNT", "COUNT", "FIRST SEEN", "LAST SEEN"];
    for (const line of table(headers, rows)) out(line);
    return 0;
  },
};

/** Prints hosts recorded from now on; runs until interrupted. */
async function follow(
  client: ControlClient,
  json: boolean,
  out: (line: string) => void,
): Promise<number> {
  let lastId = 0;
  for (;;) {
    const { hosts } = await client.get<{ hosts: HostView[] }>(
      `/v1/hosts?after_id=${lastId}&limit=${PAGE}`,
    );
    lastId = hosts.at(-1)?.id ?? lastId;
    if (hosts.length < PAGE) break;
  }
  let stopped = false;
  process.once("SIGINT", () => (stopped = true));
  process.once("SIGTERM", () => (stopped = true));
  while (!stopped) {
    await sleep(FOLLOW_POLL_MS);
    const { hosts } = await client.get<{ hosts: HostView[] }>(
      `/v1/hosts?after_id=${lastId}&limit=${PAGE}`,
    );
    for (const h of hosts) {
      out(
        json
          ? JSON.stringify(h)
          : `${h.host}|${h.service}|${h.source_ip}|${localDateTime(new Date(h.first_seen))}`,
      );
      lastId = h.id;
    }
  }
  return 0;
}

/** `30m`, `12h`, `7d`, `YYYY-MM-DD` (local midnight) or an ISO 8601 time → ISO instant. */
export function parseSince(text: string, now = new Date()): string {
  const relative = /^(\d+)([mhd])$/.exec(text.trim());
  if (relative) {
    const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "m" | "h" | "d"];
    return new Date(now.getTime() - Number(relative[1]) * unitMs).toISOString();
  }
  const day = /^(\d{4})-(\d\d)-(\d\d)$/.exec(text.trim());
  const t = day
    ? new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])).getTime()
    : Date.parse(text);
  if (Number.isNaN(t)) {
    throw new UsageError(
      `--since ${text} is not a time`,
      "use 30m, 12h, 7d, 2026-12-03 or an ISO 8601 time",
    );
  }
  return new Date(t).toISOString();
}
