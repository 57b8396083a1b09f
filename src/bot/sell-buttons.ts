import { InlineKeyboard } from "grammy";
import type { AccountView, DeletionEvent } from "../control/api.js";
import { callbackData } from "./callback-data.js";
import { reasonKind } from "./format.js";
import type { Translate } from "./locales.js";

/** Days the renew buttons add. */
export const RENEW_BUTTON_DAYS = 30;

/**
 * Telegram allows 100 buttons under a message; a push message holding more locked accounts
 * than this offers buttons for the first ones only (the rest are sold from /usage).
 */
export const MAX_PUSH_BUTTONS = 20;

/**
 * Buttons under an account card, for selling from the chat: renew by 30 days, and a top-up
 * (usage back to 0, the limit kept; confirmed first) when the account has a limit.
 */
export function cardKeyboard(t: Translate, view: AccountView): InlineKeyboard {
  const keyboard = new InlineKeyboard().text(
    t("button-renew", { days: RENEW_BUTTON_DAYS }),
    callbackData.renew(RENEW_BUTTON_DAYS, view.username),
  );
  if (view.limit_bytes !== null) {
    keyboard.text(t("button-topup"), callbackData.topUp("ask", view.username));
  }
  return keyboard;
}

/**
 * Buttons under a pushed message for the accounts it reports locked (KUOTA_ON_LIMIT=lock),
 * one row each: a top-up for an account locked over its quota, a renewal for one locked
 * because it expired; both unlock it. Deleted accounts get none (nothing is left to sell).
 * Undefined when no event in the message calls for a button.
 */
export function lockedKeyboard(
  t: Translate,
  events: readonly DeletionEvent[],
): InlineKeyboard | undefined {
  // The newest event of an account says what it is now (locked over quota, locked on expiry,
  // or deleted after all); rows keep the order the message names the accounts in.
  const latest = new Map<string, DeletionEvent>();
  for (const e of events) latest.set(e.account, e);
  const keyboard = new InlineKeyboard();
  let buttons = 0;
  for (const e of latest.values()) {
    if (buttons >= MAX_PUSH_BUTTONS) break;
    const why = reasonKind(e.reason);
    if (e.kind !== "locked" || why === "other") continue;
    if (buttons > 0) keyboard.row();
    if (why === "quota") {
      keyboard.text(
        t("button-topup-named", { name: e.account }),
        callbackData.topUp("ask", e.account),
      );
    } else {
      keyboard.text(
        t("button-renew-named", { name: e.account, days: RENEW_BUTTON_DAYS }),
        callbackData.renew(RENEW_BUTTON_DAYS, e.account),
      );
    }
    buttons++;
  }
  return buttons > 0 ? keyboard : undefined;
}
