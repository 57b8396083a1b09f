/** `kuota account add|show|limit|renew|delete|unlock`: the account lifecycle, done by the worker. */
import type { Command } from "../command.js";
import { loadConfig } from "../../config/config.js";
import { ControlClient } from "../../control/client.js";
import { UsageError } from "../../core/errors.js";
import { formatBytes } from "../../accounts/sizes.js";
import { PROTOCOLS } from "../../store/store.js";
import type {
  AccountDetails,
  AccountView,
  CreateAccountRequest,
  CreatedAccount,
  DeletionReport,
  Protocol,
  SetExpiryRequest,
} from "../../control/api.js";

const SIZES = `Sizes: 500MB, 5GB, 1.5GB, 10G; 0 or unlimited for no limit. Units are binary:
KB = 1024 bytes, MB = 1024^2, GB = 1024^3 bytes, TB = 1024^4.`;

function client(): ControlClient {
  return new ControlClient(loadConfig().socketPath);
}

function accountPath(name: string, suffix = ""): string {
  return `/v1/accounts/${encodeURIComponent(name)}${suffix}`;
}

function usage(command: string, message: string): never {
  throw new UsageError(message, `see \`kuota account ${command} --help\``);
}

function expiresText(view: AccountView): string {
  return view.expires_at ? new Date(view.expires_at).toLocaleDateString("sv") : "never";
}

const add: Command = {
  name: "add",
  summary: "create an SSH or Xray account",
  options: {
    password: { type: "string" },
    limit: { type: "string" },
    days: { type: "string" },
  },
  help: `Usage: kuota account add ssh NAME --password P [--limit SIZE] [--days N] [--json]
       kuota account add vmess|vless|trojan|shadowsocks NAME [--limit SIZE] [--days N] [--json]

Creates an account and prints how customers connect.
- ssh: a Linux user with the shell /bin/false (tunnels only), the password, and an expiry
  date N days from today when --days is given.
- vmess, vless, trojan, shadowsocks: a generated UUID or password, added to every inbound of
  that protocol in XRAY_CONFIG (comments and layout kept, checked by the engine, previous file
  kept as <config>.kuota.bak) and to the running engine without a restart. Prints the share
  links (vmess://, vless://, trojan://, ss://) built with KUOTA_PUBLIC_HOST.
  V2Ray 4.x shadowsocks inbounds hold one user each: kuota cannot add accounts to them.

NAME: 1-32 characters of a-z, 0-9, dot, underscore, hyphen, starting with a letter or digit;
unique across all protocols.
${SIZES}

Examples:
  kuota account add ssh alice --password 'S3cret-pass' --limit 5GB --days 30
  kuota account add vless bob --limit 1.5GB --days 30
  kuota account add vmess carol --json | jq -r '.links[]'`,
  async run({ args, values, out }) {
    const [protocol, name, ...rest] = args;
    if (!protocol || !name || rest.length > 0) usage("add", "give the account type and NAME");
    if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
      usage("add", `"${protocol}" is not an account type; use ${PROTOCOLS.join(", ")}`);
    }
    const request: CreateAccountRequest = { protocol: protocol as Protocol, name };
    if (typeof values.password === "string") request.password = values.password;
    if (typeof values.limit === "string") request.limit = values.limit;
    if (typeof values.days === "string") {
      const days = Number(values.days);
      if (!Number.isInteger(days) || days < 1) usage("add", "--days takes a whole number of days");
      request.days = days;
    }
    const created = await client().post<CreatedAccount>("/v1/accounts", request);
    if (values.json) {
      out(JSON.stringify(created, null, 2));
      return 0;
    }
    const a = created.account;
    const c = created.connection;
    out(
      `created ${a.protocol} account ${a.username}: limit ${formatBytes(a.limit_bytes)}, expires ${expiresText(a)}`,
    );
    out(`host:     ${c.host || "(KUOTA_PUBLIC_HOST not set)"}`);
    if (a.protocol === "ssh") out(`user:     ${a.username}`);
    out(
      `${a.protocol === "vmess" || a.protocol === "vless" ? "uuid:    " : "password:"} ${c.secret}`,
    );
    if (c.method) out(`method:   ${c.method}`);
    for (const e of c.endpoints) {
      const path = e.path ? ` path ${e.path}` : "";
      out(`${e.tag.padEnd(9)} port ${e.port} ${e.network}${path}${e.tls ? " tls" : ""}`);
    }
    for (const link of created.links) out(link);
    for (const note of created.notes ?? []) out(`note: ${note}`);
    return 0;
  },
};

const show: Command = {
  name: "show",
  summary: "show one account: usage, limit, expiry, inbounds or sessions",
  help: `Usage: kuota account show NAME [--json]

Shows an account's usage, limit, expiry and state, with the inbounds that hold it (Xray)
or its open sessions (SSH). Sizes are binary (1 GiB = 1024^3 bytes).

Examples:
  kuota account show alice
  kuota account show alice --json | jq .total_usage`,
  async run({ args, values, out }) {
    const [name, ...rest] = args;
    if (!name || rest.length > 0) usage("show", "give one NAME");
    const d = await client().get<AccountDetails>(accountPath(name));
    if (values.json) {
      out(JSON.stringify(d, null, 2));
      return 0;
    }
    const limit =
      d.limit_bytes === null ? "unlimited" : `${formatBytes(d.limit_bytes)} (${d.percent}% used)`;
    out(`account:  ${d.username} (${d.protocol}, ${d.origin}, ${d.present ? d.state : "absent"})`);
    out(`upload:   ${formatBytes(d.total_usage.upload_bytes)}`);
    out(`download: ${formatBytes(d.total_usage.download_bytes)}`);
    out(`total:    ${formatBytes(d.total_usage.total_bytes)}`);
    out(`today:    ${formatBytes(d.daily_usage.total_bytes)}`);
    out(`limit:    ${limit}`);
    out(`expires:  ${expiresText(d)}`);
    if (d.inbounds) out(`inbounds: ${d.inbounds.join(", ") || "none"}`);
    if (d.sessions) {
      out(`sessions: ${d.sessions.length}`);
      for (const s of d.sessions) out(`  ${s.daemon} ${s.ip}:${s.port}`);
    }
    return 0;
  },
};

const limit: Command = {
  name: "limit",
  summary: "set an account's quota, optionally resetting its usage",
  options: { reset: { type: "boolean" } },
  help: `Usage: kuota account limit NAME SIZE [--reset] [--json]

Sets the account's quota (upload + download). With --reset its usage starts again from
zero; without it, usage is kept (totals never reset otherwise). An account locked by
KUOTA_ON_LIMIT=lock is unlocked when this brings it back within its limit and it has not
expired: selling a top-up is \`kuota account limit NAME SIZE --reset\`.
${SIZES}

Examples:
  kuota account limit alice 10GB
  kuota account limit alice 1.5GB --reset
  kuota account limit alice unlimited`,
  async run({ args, values, out }) {
    const [name, size, ...rest] = args;
    if (!name || size === undefined || rest.length > 0) usage("limit", "give NAME and SIZE");
    const view = await client().post<AccountView>(accountPath(name, "/limit"), {
      limit: size,
      reset: values.reset === true,
    });
    if (values.json) {
      out(JSON.stringify(view, null, 2));
      return 0;
    }
    out(
      `${view.username}: limit ${formatBytes(view.limit_bytes)}, used ${formatBytes(view.total_usage.total_bytes)}${values.reset ? " (usage reset)" : ""}`,
    );
    return 0;
  },
};

const renew: Command = {
  name: "renew",
  summary: "change when an account expires: add days, set a date, or never",
  options: { days: { type: "string" }, expires: { type: "string" } },
  help: `Usage: kuota account renew NAME --days N [--json]
       kuota account renew NAME --expires YYYY-MM-DD|never [--json]

--days N adds N days to the account's expiry date; when it has none or it has passed, to
today (as \`account add --days\` does), so renewing early loses no days.
--expires sets the date outright: the first day the account no longer works (what
\`account show\` prints as "expires"); never removes the expiry.
SSH accounts get the same date on their Linux user (\`chage -E\`). An account locked by
KUOTA_ON_LIMIT=lock because it expired is unlocked when the new date is ahead and it is
within its limit.

Examples:
  kuota account renew alice --days 30
  kuota account renew bob --expires 2027-01-31
  kuota account renew carol --expires never`,
  async run({ args, values, out }) {
    const [name, ...rest] = args;
    if (!name || rest.length > 0) usage("renew", "give one NAME");
    let request: SetExpiryRequest;
    if (typeof values.days === "string" && values.expires === undefined) {
      const days = Number(values.days);
      if (!/^\d+$/.test(values.days) || days < 1) {
        usage("renew", "--days takes a whole number of days");
      }
      request = { days };
    } else if (typeof values.expires === "string" && values.days === undefined) {
      request = values.expires === "never" ? { never: true } : { expires: values.expires };
    } else {
      usage("renew", "give either --days N or --expires YYYY-MM-DD|never");
    }
    const view = await client().post<AccountView>(accountPath(name, "/expiry"), request);
    if (values.json) {
      out(JSON.stringify(view, null, 2));
      return 0;
    }
    out(
      `${view.username}: expires ${expiresText(view)}${view.state === "locked" ? " (still locked)" : ""}`,
    );
    return 0;
  },
};

const remove: Command = {
  name: "delete",
  summary: "delete an account: end its sessions and connections, remove it everywhere",
  options: { reason: { type: "string" } },
  help: `Usage: kuota account delete NAME [--reason TEXT] [--json]

Deletes an account kuota manages, at once:
- ssh: ends every session (OpenSSH and Dropbear, tunnels included), removes the crontab,
  the user's lines in /etc/cron.d and its nft session entries, then \`userdel -r\` (home
  and ~/.ssh go with it).
- xray: removes it from the running engine and from XRAY_CONFIG, and cuts its live
  connections (found in the engine's access log).
- both: removes it from the store and its usage file, appends a line to deleted.log and
  records an event for the bot.
Refused, with nothing changed: root, system users (uid < 1000), nobody, Linux users with
a login shell, and names kuota does not manage.
Each step is printed; a failed step does not stop the others. Exit code 1 when a step
failed: run the same command again to finish.

Examples:
  kuota account delete alice
  kuota account delete bob --reason "refund requested"`,
  async run({ args, values, out }) {
    const [name, ...rest] = args;
    if (!name || rest.length > 0) usage("delete", "give one NAME");
    const body = typeof values.reason === "string" ? { reason: values.reason } : {};
    const report = await client().request<DeletionReport>("DELETE", accountPath(name), body);
    if (values.json) {
      out(JSON.stringify(report, null, 2));
      return report.complete ? 0 : 1;
    }
    out(
      report.complete
        ? `deleted ${report.protocol} account ${report.account}`
        : `${report.account}: deletion incomplete; run the command again to finish`,
    );
    for (const s of report.steps)
      out(`  ${s.ok ? "ok    " : "FAILED"} ${s.step}: ${s.detail ?? ""}`);
    return report.complete ? 0 : 1;
  },
};

const unlock: Command = {
  name: "unlock",
  summary: "unlock an account locked over its quota or expiry (KUOTA_ON_LIMIT=lock)",
  help: `Usage: kuota account unlock NAME [--json]

Unlocks an account that KUOTA_ON_LIMIT=lock locked, keeping its usage and limit:
- ssh: unlocks its password (\`usermod -U\`); the customer logs in again.
- xray: puts its client (same UUID or password, so the same share links) back on the
  inbounds of XRAY_CONFIG it was on, and into the running engine.
An account still over its limit or past its expiry is locked again at once: to sell a
top-up, set the new limit instead (\`kuota account limit NAME SIZE --reset\`), which
unlocks it by itself. Exit code 1 when a step failed: run the same command again.

Examples:
  kuota account unlock alice
  kuota account limit alice 10GB --reset`,
  async run({ args, values, out }) {
    const [name, ...rest] = args;
    if (!name || rest.length > 0) usage("unlock", "give one NAME");
    const report = await client().post<DeletionReport>(accountPath(name, "/unlock"), {});
    if (values.json) {
      out(JSON.stringify(report, null, 2));
      return report.complete ? 0 : 1;
    }
    out(
      report.complete
        ? `unlocked ${report.protocol} account ${report.account}`
        : `${report.account}: unlock incomplete; run the command again to finish`,
    );
    for (const s of report.steps)
      out(`  ${s.ok ? "ok    " : "FAILED"} ${s.step}: ${s.detail ?? ""}`);
    return report.complete ? 0 : 1;
  },
};

/** The lifecycle subcommands of `kuota account`. */
export const accountLifecycleCommands: Command[] = [add, show, limit, renew, remove, unlock];
