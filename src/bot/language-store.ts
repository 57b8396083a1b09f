import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../core/log.js";
import { LOCALES, localeOf, type Locale } from "./locales.js";

type Entry = { chosen?: Locale; seen?: Locale };

/**
 * Each admin's language: the one chosen with /language, else the last Telegram language
 * seen from them. Kept in memory and in `<state dir>/languages.json` so pushes after a
 * restart go out in the admin's language. When the folder is not writable the choice
 * lasts until the bot stops, and that is said once in the log.
 */
export class LanguageStore {
  private readonly entries = new Map<number, Entry>();
  private readonly file: string;
  private warned = false;

  constructor(
    private readonly stateDir: string,
    private readonly fallback: Locale,
    private readonly log: Logger,
  ) {
    this.file = join(stateDir, "languages.json");
    this.load();
  }

  /** The language to speak to `userId`: chosen, else seen, else BOT_LOCALE. */
  localeFor(userId: number): Locale {
    const e = this.entries.get(userId);
    return e?.chosen ?? e?.seen ?? this.fallback;
  }

  /** The language chosen with /language, if any. */
  chosen(userId: number): Locale | undefined {
    return this.entries.get(userId)?.chosen;
  }

  /** Remembers the Telegram language an admin's client reports (saved only when it changed). */
  see(userId: number, languageCode: string | undefined): void {
    const locale = localeOf(languageCode);
    if (!locale) return;
    const e = this.entries.get(userId) ?? {};
    if (e.seen === locale) return;
    this.entries.set(userId, { ...e, seen: locale });
    this.save();
  }

  choose(userId: number, locale: Locale): void {
    this.entries.set(userId, { ...this.entries.get(userId), chosen: locale });
    this.save();
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return;
    }
    try {
      const data = JSON.parse(text) as Record<string, Entry>;
      for (const [id, e] of Object.entries(data)) {
        const entry: Entry = {};
        if (isLocale(e?.chosen)) entry.chosen = e.chosen;
        if (isLocale(e?.seen)) entry.seen = e.seen;
        if (/^\d+$/.test(id)) this.entries.set(Number(id), entry);
      }
    } catch {
      this.log.warn({ file: this.file }, "languages file is not JSON; starting from defaults");
    }
  }

  private save(): void {
    const data: Record<string, Entry> = {};
    for (const [id, e] of this.entries) data[String(id)] = e;
    try {
      mkdirSync(this.stateDir, { recursive: true });
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify(data, null, 2) + "\n");
      renameSync(tmp, this.file);
    } catch (err) {
      if (this.warned) return;
      this.warned = true;
      this.log.warn(
        { dir: this.stateDir, code: (err as NodeJS.ErrnoException).code },
        "cannot save admins' languages; they last until the bot stops (set BOT_STATE_DIR)",
      );
    }
  }
}

function isLocale(v: unknown): v is Locale {
  return typeof v === "string" && (LOCALES as readonly string[]).includes(v);
}
