import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { I18n, type I18nFlavor } from "@grammyjs/i18n";
import type { Context } from "grammy";

/** Languages the bot speaks; each has a `locales/<id>.ftl` file with the same keys. */
export const LOCALES = ["en", "id"] as const;
export type Locale = (typeof LOCALES)[number];

/** Fluent variables passed to a message; dynamic text must already be HTML-escaped. */
export type Vars = Record<string, string | number>;

/** A translation function bound to one language, called with a message key and variables. */
export type Translate = (key: string, vars?: Vars) => string;

/** The locale for a Telegram `language_code` (`id`, `en-GB`, ...), or null when unsupported. */
export function localeOf(languageCode: string | undefined): Locale | null {
  const base = languageCode?.toLowerCase().split(/[-_]/)[0];
  return LOCALES.find((l) => l === base) ?? null;
}

/**
 * The `locales/` folder shipped with kuota, found by walking up from this file so that it
 * works from the sources (tsx) and from `dist/`.
 */
export function findLocalesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, "locales", "en.ftl"))) return join(dir, "locales");
    dir = dirname(dir);
  }
  throw new Error("locales/en.ftl not found above " + fileURLToPath(import.meta.url));
}

/**
 * Loads the Fluent files. Unicode isolation marks are off: they would end up inside
 * share links and passwords the seller copies.
 */
export function createI18n<C extends Context>(
  defaultLocale: Locale,
  negotiate: (ctx: C) => Locale | undefined,
  dir = findLocalesDir(),
): I18n<C> {
  const i18n = new I18n<C>({
    defaultLocale,
    localeNegotiator: negotiate,
    fluentBundleOptions: { useIsolating: false },
  });
  for (const locale of LOCALES) {
    i18n.loadLocaleSync(locale, { filePath: join(dir, `${locale}.ftl`) });
  }
  return i18n;
}

/** A `Translate` bound to `locale`, for messages sent outside an update (pushes). */
export function translatorFor<C extends Context>(i18n: I18n<C>, locale: Locale): Translate {
  return (key, vars) => i18n.t(locale, key, vars);
}

export type { I18nFlavor };
