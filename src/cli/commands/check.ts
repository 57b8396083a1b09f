import type { Command } from "../command.js";
import { loadConfig } from "../../config/config.js";
import { ControlClient } from "../../control/client.js";
import type { EnforcementAction } from "../../enforce/enforcer.js";

type CheckResult = { polled: string[]; actions: EnforcementAction[] };

export const checkCommand: Command = {
  name: "check",
  summary: "run one accounting and enforcement pass now and print what it did",
  help: `Usage: kuota check [--json]

Asks the worker to read every counter now, then to check every account against
its limit and expiry date, and cut those that are due (KUOTA_ON_LIMIT: delete by
default). The worker does this continuously anyway; this is for menus and cron.

Exit codes: 0 ok (also when nothing was due), 1 a cut failed or the worker is down.

Examples:
  kuota check
  kuota check --json | jq '.actions[] | select(.outcome == "deleted")'`,
  async run({ values, out }) {
    const client = new ControlClient(loadConfig().socketPath, 120_000);
    const result = await client.post<CheckResult>("/v1/check");
    if (values.json) {
      out(JSON.stringify(result, null, 2));
    } else {
      out(`read: ${result.polled.join(", ") || "nothing"}`);
      if (result.actions.length === 0) out("no account over its limit or expired");
      for (const a of result.actions) {
        out(
          `${a.outcome}: ${a.account} (${a.protocol}): ${a.reason}${a.detail ? `; ${a.detail}` : ""}`,
        );
      }
    }
    return result.actions.some((a) => a.outcome === "failed" || a.outcome === "partial") ? 1 : 0;
  },
};
