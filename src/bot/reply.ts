import { HTML, translator, type InnerContext } from "./context.js";
import { workerErrorText } from "./worker-errors.js";

/**
 * Runs a worker request; a refusal or an absent worker is answered to the admin in their
 * language and gives undefined. Anything else is a bug and is rethrown.
 * @param name the account the request is about, already escaped
 */
export async function askWorker<T>(
  ctx: InnerContext,
  call: () => Promise<T>,
  name = "",
): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    const text = workerErrorText(translator(ctx), err, name);
    if (text === null) throw err;
    await ctx.reply(text, HTML);
    return undefined;
  }
}

/** Path segment for an account name (names are validated first; this is belt and braces). */
export function accountPath(prefix: string, name: string, suffix = ""): string {
  return `${prefix}/${encodeURIComponent(name)}${suffix}`;
}
