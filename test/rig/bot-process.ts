import { spawn, type ChildProcess } from "node:child_process";
import { after } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { KUOTA_BIN } from "./worker.js";

const live = new Set<BotProcess>();
after(async () => {
  await Promise.allSettled([...live].map((b) => b.signal("SIGKILL")));
});

/**
 * `kuota bot` (the built CLI) as a child process, its JSON log lines collected.
 * @param env the bot's environment on top of this process's, read at each start
 */
export class BotProcess {
  private proc: ChildProcess | null = null;
  readonly logs: string[] = [];

  constructor(private readonly env: () => Record<string, string>) {}

  /** Starts the bot and waits for its "bot started" line (15 s at most). */
  async start(): Promise<void> {
    const proc = spawn(process.execPath, [KUOTA_BIN, "bot"], {
      env: { ...process.env, ...this.env() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    live.add(this);
    const collect = (b: Buffer) => this.logs.push(...b.toString().split("\n").filter(Boolean));
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`bot exited:\n${this.logs.join("\n")}`);
      if (this.logs.some((l) => l.includes('"bot started"'))) return;
      await sleep(50);
    }
    throw new Error(`bot did not start:\n${this.logs.join("\n")}`);
  }

  get alive(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends a signal and waits for the exit. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    live.delete(this);
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill(sig);
    await exited;
  }
}
