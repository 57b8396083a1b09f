import { setTimeout as sleep } from "node:timers/promises";

/**
 * Spaces outgoing messages to stay inside Telegram's limits: about 30 messages a second
 * overall and one a second per chat. Slots are reserved synchronously, so concurrent
 * senders queue in call order instead of bursting together.
 *
 * Written here rather than taken from @grammyjs/transformer-throttler: grammY's docs point to
 * auto-retry instead (used too, for the 429s that still come), and the pushes need only these two
 * gaps, not a Bottleneck queue under every API call.
 */
export class Pacer {
  private nextGlobal = 0;
  private readonly nextByChat = new Map<number, number>();

  /**
   * @param globalGapMs least time between two messages of the bot (default 40 ms: 25/s)
   * @param chatGapMs least time between two messages to one chat (default 1000 ms)
   */
  constructor(
    readonly globalGapMs = 40,
    readonly chatGapMs = 1000,
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number) => Promise<unknown> = sleep,
  ) {}

  /** Resolves when the next message of the bot may go. */
  async global(): Promise<void> {
    const now = this.now();
    const at = Math.max(now, this.nextGlobal);
    this.nextGlobal = at + this.globalGapMs;
    if (at > now) await this.wait(at - now);
  }

  /** Resolves when the next message to `chatId` may go (the global gap is separate). */
  async chat(chatId: number): Promise<void> {
    const now = this.now();
    const at = Math.max(now, this.nextByChat.get(chatId) ?? 0);
    this.nextByChat.set(chatId, at + this.chatGapMs);
    if (this.nextByChat.size > 10_000) {
      for (const [id, t] of this.nextByChat) if (t < now) this.nextByChat.delete(id);
    }
    if (at > now) await this.wait(at - now);
  }

  /**
   * Notes that a message to `chatId` was just accepted: the next one waits a full gap from
   * now, even when retries made this one late.
   */
  sent(chatId: number): void {
    this.nextByChat.set(chatId, this.now() + this.chatGapMs);
  }
}
