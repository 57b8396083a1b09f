import type { Command } from "../command.js";
import { loadConfig } from "../../config/config.js";
import { ControlClient } from "../../control/client.js";
import { formatBytes, table } from "../format.js";
import type { AccountView } from "../../worker/views.js";
import { accountLifecycleCommands } from "./account-lifecycle.js";

const list: Command = {
  name: "list",
  summary: "list the accounts kuota counts",
  help: `Usage: kuota account list [--json]

Lists every account kuota knows: adopted from the engine config and /etc/passwd,
or created by kuota.

Examples:
  kuota account list
  kuota account list --json`,
  async run({ values, out }) {
    const client = new ControlClient(loadConfig().socketPath);
    const { accounts } = await client.get<{ accounts: AccountView[] }>("/v1/usage");
    if (values.json) {
      out(JSON.stringify({ accounts }, null, 2));
      return 0;
    }
    const rows = accounts.map((a) => [
      a.username,
      a.protocol,
      a.origin,
      a.present ? a.state : "absent",
      a.limit_bytes === null ? "unlimited" : formatBytes(a.limit_bytes),
      a.expires_at ?? "-",
    ]);
    for (const line of table(["USER", "PROTOCOL", "ORIGIN", "STATE", "LIMIT", "EXPIRES"], rows)) {
      out(line);
    }
    return 0;
  },
};

/** `kuota account ...`: the lifecycle's subcommands are appended to this list. */
export const accountCommand: Command = {
  name: "account",
  summary: "list, create, show, limit and delete accounts",
  subcommands: [list, ...accountLifecycleCommands],
  help: "",
  async run() {
    return 2;
  },
};
