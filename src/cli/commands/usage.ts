import type { Command } from "../command.js";
import { loadConfig } from "../../config/config.js";
import { ControlClient } from "../../control/client.js";
import { formatBytes, table } from "../format.js";
import type { AccountView } from "../../worker/views.js";

export const usageCommand: Command = {
  name: "usage",
  summary: "show upload, download and today's usage of every account or one",
  help: `Usage: kuota usage [USER] [--json]

Shows each account's total upload and download, today's usage and its limit,
as counted by the worker (asked over its control socket). Sizes are binary:
1 GiB = 1024^3 bytes. With --json, prints the same documents as
/etc/myvpn/usage/<user>.json plus account state.

Exit codes: 0 ok, 1 worker down or no such account, 2 wrong usage.

Examples:
  kuota usage
  kuota usage alice
  kuota usage --json | jq '.accounts[] | select(.protocol == "vless")'`,
  async run({ args, values, out }) {
    const client = new ControlClient(loadConfig().socketPath);
    if (args.length > 1) {
      const { UsageError } = await import("../../core/errors.js");
      throw new UsageError("give at most one USER", "see `kuota usage --help`");
    }
    const views: AccountView[] = args[0]
      ? [await client.get<AccountView>(`/v1/usage/${encodeURIComponent(args[0])}`)]
      : (await client.get<{ accounts: AccountView[] }>("/v1/usage")).accounts;
    if (values.json) {
      out(JSON.stringify(args[0] ? views[0] : { accounts: views }, null, 2));
      return 0;
    }
    const rows = views.map((v) => [
      v.username,
      v.protocol,
      formatBytes(v.total_usage.upload_bytes),
      formatBytes(v.total_usage.download_bytes),
      formatBytes(v.total_usage.total_bytes),
      formatBytes(v.daily_usage.total_bytes),
      v.limit_bytes === null ? "unlimited" : `${formatBytes(v.limit_bytes)} (${v.percent}%)`,
    ]);
    for (const line of table(
      ["USER", "PROTOCOL", "UPLOAD", "DOWNLOAD", "TOTAL", "TODAY", "LIMIT"],
      rows,
    ))
      out(line);
    return 0;
  },
};
