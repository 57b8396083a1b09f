import { readFile } from "node:fs/promises";
import { watch, type FSWatcher } from "node:fs";
import { dirname, basename } from "node:path";
import { readXrayConfig, listAccounts } from "../../accounts/xray-config.js";
import { parsePasswd, isSshAccount } from "./passwd.js";
import type { Logger } from "../../core/log.js";
import { FileStamp } from "../../core/file-stamp.js";
import type { DiscoveredAccount, Protocol, Store } from "../../store/store.js";

export type DiscoveryOptions = {
  xrayConfig: string;
  passwdFile: string;
  intervalMs: number;
  store: Store;
  log: Logger;
  /** Called with names adopted in a round, so their usage files get written. */
  onAdopted: (names: string[]) => void;
  /** Called after a round that read a changed file (enforcement re-reads the accounts). */
  onChanged?: () => void;
};

const XRAY_PROTOCOLS: Protocol[] = ["vmess", "vless", "trojan", "shadowsocks"];

/**
 * Registers (adopts) the accounts that exist on the server: every client email of
 * the engine config and every SSH account in /etc/passwd. Runs at start, on a
 * timer, and soon after either file changes. Accounts that disappear are marked
 * absent, never deleted: their usage is kept in case they come back.
 */
export class Discovery {
  private timer: NodeJS.Timeout | null = null;
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rerun = false;
  /** The last round's findings per source, reused while the file is unchanged. */
  private readonly stamps = { xray: new FileStamp(), passwd: new FileStamp() };
  private lastXray: DiscoveredAccount[] | null = null;
  private lastSsh: DiscoveredAccount[] | null = null;
  private rounds = 0;
  /** What was last logged per source, so a lasting problem is logged once. */
  private lastProblem = new Map<string, string>();

  constructor(private readonly opts: DiscoveryOptions) {}

  async start(): Promise<void> {
    await this.runOnce();
    this.timer = setInterval(() => void this.trigger(), this.opts.intervalMs);
    this.timer.unref();
    for (const file of [this.opts.xrayConfig, this.opts.passwdFile]) {
      try {
        // Watch the folder: editors and useradd replace the file by rename.
        const w = watch(dirname(file), (_event, name) => {
          if (name === basename(file)) this.soon();
        });
        w.unref();
        this.watchers.push(w);
      } catch {
        // the folder is missing; the timer still catches the file when it appears
      }
    }
  }

  private soon(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.trigger(), 100);
  }

  private async trigger(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = this.runOnce().finally(() => (this.running = null));
    await this.running;
    if (this.rerun) {
      this.rerun = false;
      await this.trigger();
    }
  }

  private problem(source: string, message: string | null, fields: object = {}): void {
    if (message === null) {
      this.lastProblem.delete(source);
      return;
    }
    if (this.lastProblem.get(source) === message) return;
    this.lastProblem.set(source, message);
    this.opts.log.warn({ source, ...fields }, message);
  }

  /** One discovery round; each source that cannot be read is left as it was. */
  async runOnce(): Promise<void> {
    const at = new Date().toISOString();
    const before = { xray: this.lastXray, ssh: this.lastSsh };
    const xray = await this.readXray();
    const ssh = await this.readSsh();
    // Neither file changed since the last round: nothing to adopt or mark absent.
    if (this.rounds++ > 0 && xray === before.xray && ssh === before.ssh) return;
    const found = [...(xray ?? []), ...(ssh ?? [])];
    const adopted = await this.opts.store.adoptAccounts(found, at);
    if (adopted.length > 0) {
      this.opts.log.info(
        { count: adopted.length, users: adopted.slice(0, 20) },
        "accounts adopted",
      );
      this.opts.onAdopted(adopted);
    }
    const names = new Set(found.map((a) => a.name));
    const protocols: Protocol[] = [
      ...(xray ? XRAY_PROTOCOLS : []),
      ...(ssh ? (["ssh"] as const) : []),
    ];
    if (protocols.length === 0) return;
    const gone = await this.opts.store.markAbsent(protocols, names, at);
    if (gone.length > 0) {
      this.opts.log.info(
        { users: gone.slice(0, 20), count: gone.length },
        "accounts no longer on the server",
      );
    }
    // Any round past the check above may have changed accounts (one back on the server too).
    this.opts.onChanged?.();
  }

  private async readXray(): Promise<DiscoveredAccount[] | null> {
    if (!(await this.stamps.xray.changed(this.opts.xrayConfig))) return this.lastXray;
    this.lastXray = await this.parseXray();
    return this.lastXray;
  }

  private async parseXray(): Promise<DiscoveredAccount[] | null> {
    let text: string;
    try {
      text = await readFile(this.opts.xrayConfig, "utf8");
    } catch (err) {
      this.problem(
        "xray-config",
        `cannot read the engine config (${(err as NodeJS.ErrnoException).code}); Xray accounts are not discovered until it exists`,
        { path: this.opts.xrayConfig },
      );
      return null;
    }
    try {
      const config = readXrayConfig(text, this.opts.xrayConfig);
      const { accounts, conflicts } = listAccounts(config);
      const notes = [
        ...config.warnings,
        ...conflicts.map((c) => `email ${c.name} is on ${c.protocols.join(" and ")} inbounds`),
      ];
      this.problem(
        "xray-config-content",
        notes.length ? `engine config: ${notes.slice(0, 5).join("; ")}` : null,
      );
      this.problem("xray-config", null);
      return accounts.map((a) => ({ name: a.name, protocol: a.protocol }));
    } catch (err) {
      this.problem("xray-config", `the engine config cannot be read: ${(err as Error).message}`, {
        path: this.opts.xrayConfig,
      });
      return null;
    }
  }

  private async readSsh(): Promise<DiscoveredAccount[] | null> {
    if (!(await this.stamps.passwd.changed(this.opts.passwdFile))) return this.lastSsh;
    this.lastSsh = await this.parseSsh();
    return this.lastSsh;
  }

  private async parseSsh(): Promise<DiscoveredAccount[] | null> {
    try {
      const text = await readFile(this.opts.passwdFile, "utf8");
      this.problem("passwd", null);
      return parsePasswd(text)
        .filter(isSshAccount)
        .map((e) => ({ name: e.name, protocol: "ssh" as const }));
    } catch (err) {
      this.problem("passwd", `cannot read ${this.opts.passwdFile}: ${(err as Error).message}`);
      return null;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
  }
}
