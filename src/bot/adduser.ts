import { InlineKeyboard } from "grammy";
import type { Conversation } from "@grammyjs/conversations";
import { newPassword } from "../accounts/credentials.js";
import type { CreateAccountRequest, CreatedAccount } from "../control/api.js";
import { WorkerRequestError } from "../control/client.js";
import { WorkerDownError } from "../core/errors.js";
import { PROTOCOLS, type Protocol } from "../store/store.js";
import { nameProblem, parseDays, parseLimit, parseProtocol, passwordProblem } from "./args.js";
import { addUserData, parseAddUserData } from "./callback-data.js";
import { HTML, translator, type BotContext, type BotDeps, type InnerContext } from "./context.js";
import { limitText, timeText } from "./format.js";
import { clip, escapeHtml } from "./html.js";
import type { Translate } from "./locales.js";
import { packBlocks } from "./pack.js";
import { accountPath } from "./reply.js";
import { workerErrorText } from "./worker-errors.js";

/** The id under which /adduser's conversation is registered. */
export const ADD_USER = "adduser";

/** Quota buttons; the last one removes the limit. */
const SIZE_BUTTONS = ["1GB", "5GB", "10GB", "unlimited"] as const;
/** Validity buttons in days; 0 means no expiry. */
const DAY_BUTTONS = [7, 30, 60, 90, 0] as const;

type Answer = { ok: true; value: string } | { ok: false; problem: string };

/**
 * `/adduser`: protocol (buttons), name, SSH password, quota (buttons or text), days (buttons
 * or text), then POST /v1/accounts and the connection details in copyable blocks. A bad
 * answer is met with its reason and the same question; a command other than /cancel (which
 * is handled outside) is met with a reminder.
 *
 * Conversations replay this function on every update, so everything that is not a Bot API
 * call — worker requests, random passwords — runs through `conversation.external`.
 */
export function addUserConversation(deps: BotDeps) {
  return async function adduser(
    conversation: Conversation<BotContext, InnerContext>,
    ctx: InnerContext,
  ): Promise<void> {
    const t = translator(ctx);

    const ask = async (
      question: string,
      keyboard: InlineKeyboard | undefined,
      step: "protocol" | "name" | "password" | "size" | "days",
      check: (answer: string) => Promise<Answer> | Answer,
    ): Promise<string> => {
      await ctx.reply(question, { ...HTML, ...(keyboard ? { reply_markup: keyboard } : {}) });
      for (;;) {
        const u = await conversation.wait();
        const raw = await answerOf(u, step);
        if (raw === null) {
          await u.reply(t("add-answer-first"), HTML);
          continue;
        }
        const checked = await check(raw);
        if (checked.ok) return checked.value;
        await u.reply(checked.problem, HTML);
      }
    };

    // protocol
    const protocolKeyboard = new InlineKeyboard();
    PROTOCOLS.forEach((p, i) => {
      protocolKeyboard.text(p, addUserData.protocol(p));
      if (i % 3 === 2) protocolKeyboard.row();
    });
    const protocol = (await ask(t("add-ask-protocol"), protocolKeyboard, "protocol", (a) => {
      const p = parseProtocol(a);
      return p ? { ok: true, value: p } : { ok: false, problem: t("add-protocol-invalid") };
    })) as Protocol;

    // name
    const name = await ask(t("add-ask-name"), undefined, "name", async (a) => {
      const problem = nameProblem(t, a);
      if (problem) return { ok: false, problem };
      const taken = await conversation.external(() => accountExists(deps, a));
      return taken
        ? { ok: false, problem: t("account-exists", { name: escapeHtml(a) }) }
        : { ok: true, value: a };
    });

    // password (SSH only)
    let password: string | undefined;
    if (protocol === "ssh") {
      const keyboard = new InlineKeyboard().text(t("add-button-generate"), addUserData.generate());
      password = await ask(t("add-ask-password"), keyboard, "password", async (a) => {
        if (a === GENERATE) {
          return { ok: true, value: await conversation.external(() => newPassword(12)) };
        }
        const problem = passwordProblem(t, a);
        return problem ? { ok: false, problem } : { ok: true, value: a };
      });
    }

    // quota
    const sizeKeyboard = new InlineKeyboard();
    for (const s of SIZE_BUTTONS) {
      sizeKeyboard.text(s === "unlimited" ? t("unlimited") : s, addUserData.size(s));
    }
    const sizeText = await ask(t("add-ask-limit"), sizeKeyboard, "size", (a) => {
      const r = parseLimit(t, a);
      return r.ok ? { ok: true, value: a } : { ok: false, problem: r.problem };
    });
    const limit = (parseLimit(t, sizeText) as { ok: true; bytes: number | null }).bytes;

    // days
    const dayKeyboard = new InlineKeyboard();
    for (const d of DAY_BUTTONS) {
      dayKeyboard.text(
        d === 0 ? t("add-button-never") : t("add-days-button", { days: d }),
        addUserData.days(d),
      );
    }
    const daysText = await ask(t("add-ask-days"), dayKeyboard, "days", (a) => {
      const r = parseDays(t, a);
      return r.ok ? { ok: true, value: a } : { ok: false, problem: r.problem };
    });
    const days = (parseDays(t, daysText) as { ok: true; days: number | null }).days;

    // create
    await ctx.reply(t("add-creating", { name: escapeHtml(name) }), HTML);
    const request: CreateAccountRequest = { protocol, name, limit };
    if (password !== undefined) request.password = password;
    if (days !== null) request.days = days;
    const result = await conversation.external(() => createAccount(deps, request));
    if (!result.ok) {
      const reason = workerErrorText(t, reviveError(result.error), escapeHtml(name));
      if (reason === null) {
        deps.log.error({ err: result.error }, "creating an account failed");
      }
      await ctx.reply(
        t("add-failed", { name: escapeHtml(name), reason: reason ?? t("internal-error") }),
        HTML,
      );
      return;
    }
    for (const m of packBlocks(createdBlocks(t, result.created), undefined, "\n\n")) {
      await ctx.reply(m.text, HTML);
    }
  };
}

/** The answer of a "Generate" press, distinct from anything typed (typed text is trimmed). */
const GENERATE = "\u0000generate";

/** The text an update answers with for `step`: typed text or a matching button; else null. */
async function answerOf(u: InnerContext, step: string): Promise<string | null> {
  const data = u.callbackQuery?.data;
  if (data !== undefined) {
    await u.answerCallbackQuery().catch(() => undefined);
    const parsed = parseAddUserData(data);
    if (parsed === null) return null;
    if (parsed.step === "generate") return step === "password" ? GENERATE : null;
    return parsed.step === step ? parsed.value : null;
  }
  const text = u.message?.text;
  if (text === undefined || text.startsWith("/")) return null;
  if (step === "password") {
    // Keep the password out of the chat history once it is read.
    await u.deleteMessage().catch(() => undefined);
    return text;
  }
  return text.trim();
}

async function accountExists(deps: BotDeps, name: string): Promise<boolean> {
  try {
    await deps.client.get(accountPath("/v1/usage", name));
    return true;
  } catch {
    // Absent, or the worker cannot say: creation will tell.
    return false;
  }
}

/** Error fields kept across conversation replays (the result is stored as JSON). */
type PlainError = { name: string; status?: number; code?: string; message: string; hint?: string };

/** The worker error a PlainError was made from, so it can be worded like any other. */
function reviveError(e: PlainError): unknown {
  if (e.name === "WorkerDownError") return new WorkerDownError("", "");
  if (e.name === "WorkerRequestError") {
    return new WorkerRequestError(e.status ?? 500, e.code ?? "unknown", e.message, e.hint);
  }
  return e;
}

async function createAccount(
  deps: BotDeps,
  request: CreateAccountRequest,
): Promise<{ ok: true; created: CreatedAccount } | { ok: false; error: PlainError }> {
  try {
    return { ok: true, created: await deps.client.post<CreatedAccount>("/v1/accounts", request) };
  } catch (err) {
    const e = err as Error & { status?: number; code?: string; hint?: string };
    return {
      ok: false,
      error: { name: e.name, status: e.status, code: e.code, message: e.message, hint: e.hint },
    };
  }
}

/** Characters kept of one worker note; they are one sentence each, this only bounds a surprise. */
const NOTE_CHARS = 400;

/**
 * The reply after creation: summary, the worker's notes (if any), connection details and links,
 * each block copyable.
 */
export function createdBlocks(t: Translate, created: CreatedAccount): string[] {
  const a = created.account;
  const c = created.connection;
  const name = escapeHtml(a.username);
  const details = [t("add-host", { host: escapeHtml(c.host) })];
  if (a.protocol === "ssh") details.push(t("add-user", { name }));
  details.push(
    a.protocol === "vmess" || a.protocol === "vless"
      ? t("add-secret-uuid", { secret: escapeHtml(c.secret) })
      : t("add-secret-password", { secret: escapeHtml(c.secret) }),
  );
  if (c.method) details.push(t("add-method", { method: escapeHtml(c.method) }));
  for (const e of c.endpoints) {
    details.push(
      t("add-endpoint", {
        tag: escapeHtml(e.tag),
        port: escapeHtml(String(e.port)),
        network: escapeHtml(e.network),
        path: e.path ? ` ${escapeHtml(e.path)}` : "",
        tls: e.tls ? ", TLS" : "",
      }),
    );
  }
  const blocks = [
    t("add-created", {
      name,
      protocol: escapeHtml(a.protocol),
      limit: limitText(t, a.limit_bytes),
      expires: timeText(a.expires_at, t("never")),
    }),
  ];
  // The worker's notes (engine unreachable, no links made...) say what the seller must do next.
  const notes = created.notes ?? [];
  if (notes.length > 0) {
    const lines = notes.map((n) => t("add-note", { note: escapeHtml(clip(n, NOTE_CHARS)) }));
    blocks.push([t("add-notes"), ...lines].join("\n"));
  }
  blocks.push(`${t("add-connection")}\n<pre>${details.join("\n")}</pre>`);
  if (created.links.length > 0) {
    blocks.push(t("add-links"), ...created.links.map((l) => `<pre>${escapeHtml(l)}</pre>`));
  }
  return blocks;
}
