import { Composer } from "grammy";
import type { DeletedLogEntry, HostView, StatusView } from "../../control/api.js";
import { splitArgs } from "../args.js";
import { HTML, translator, type BotContext, type BotDeps } from "../context.js";
import { deletedText, hostsText, statusText } from "../format.js";
import { packBlocks } from "../pack.js";
import { askWorker } from "../reply.js";

/** Hosts shown by /hosts; twenty lines fit a phone screen. */
const HOSTS_SHOWN = 20;
/** Deletions shown by /deleted. */
const DELETED_SHOWN = 15;

/** /hosts [filter], /deleted, /status. */
export function infoCommands(deps: BotDeps): Composer<BotContext> {
  const c = new Composer<BotContext>();
  const { client } = deps;

  c.command("hosts", async (ctx) => {
    const filter = splitArgs(ctx.match, 1)[0]?.slice(0, 100) ?? "";
    const query = new URLSearchParams({ limit: String(HOSTS_SHOWN) });
    if (filter) query.set("q", filter);
    const answer = await askWorker(ctx, () =>
      client.get<{ hosts: HostView[] }>(`/v1/hosts?${query}`),
    );
    if (!answer) return;
    const text = hostsText(translator(ctx), answer.hosts.slice(0, HOSTS_SHOWN), filter);
    for (const m of packBlocks(text.split("\n"))) await ctx.reply(m.text, HTML);
  });

  c.command("deleted", async (ctx) => {
    const answer = await askWorker(ctx, () =>
      client.get<{ entries: DeletedLogEntry[] }>(`/v1/deleted?limit=${DELETED_SHOWN}`),
    );
    if (!answer) return;
    const text = deletedText(translator(ctx), answer.entries.slice(0, DELETED_SHOWN));
    for (const m of packBlocks(text.split("\n"))) await ctx.reply(m.text, HTML);
  });

  c.command("status", async (ctx) => {
    const status = await askWorker(ctx, () => client.get<StatusView>("/v1/status"));
    if (status) await ctx.reply(statusText(translator(ctx), status), HTML);
  });
  return c;
}
