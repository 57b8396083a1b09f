/**
 * A full-screen session on a terminal, written with plain ANSI/xterm escapes: the alternate
 * screen, a hidden cursor and raw keys, all undone by `restore()`. Half a dozen escapes cover
 * what `kuota top` needs, so no terminal library is pulled in.
 */
import type { ReadStream, WriteStream } from "node:tty";

const ALT_SCREEN_ON = "\x1b[?1049h";
const ALT_SCREEN_OFF = "\x1b[?1049l";
const CURSOR_HIDE = "\x1b[?25l";
const CURSOR_SHOW = "\x1b[?25h";
const HOME = "\x1b[H";
const CLEAR_LINE_END = "\x1b[K";
const CLEAR_BELOW = "\x1b[J";
const RESET_STYLE = "\x1b[0m";

export class FullScreen {
  private active = false;
  private readonly onExit = () => this.restore();

  /**
   * @param output the terminal (a TTY)
   * @param input keys are read from it in raw mode when it is a TTY too
   */
  constructor(
    private readonly output: WriteStream,
    private readonly input: ReadStream | null,
  ) {}

  /** Columns and rows; 80x24 when the terminal does not say. */
  get size(): { width: number; height: number } {
    return { width: this.output.columns || 80, height: this.output.rows || 24 };
  }

  /**
   * Switches to the alternate screen, hides the cursor and delivers each key press to `onKey`.
   * The terminal is put back on `restore()` and, as a last resort, when the process exits.
   */
  enter(onKey: (key: string) => void): void {
    if (this.active) return;
    this.active = true;
    process.once("exit", this.onExit);
    this.output.write(ALT_SCREEN_ON + CURSOR_HIDE + HOME + CLEAR_BELOW);
    if (this.input?.isTTY) {
      this.input.setRawMode(true);
      this.input.setEncoding("utf8");
      this.input.on("data", (chunk: string) => {
        for (const key of chunk) onKey(key);
      });
      this.input.resume();
    }
  }

  /**
   * Draws `lines` from the top left, clearing what each line and the rest of the screen held
   * before; one write per frame, so nothing flickers.
   */
  draw(lines: readonly string[]): void {
    if (!this.active) return;
    this.output.write(
      HOME + lines.map((l) => l + RESET_STYLE + CLEAR_LINE_END).join("\r\n") + CLEAR_BELOW,
    );
  }

  /** Leaves the alternate screen, shows the cursor and stops reading keys. Safe to call twice. */
  restore(): void {
    if (!this.active) return;
    this.active = false;
    process.removeListener("exit", this.onExit);
    if (this.input?.isTTY) {
      this.input.setRawMode(false);
      this.input.removeAllListeners("data");
      this.input.pause();
    }
    this.output.write(RESET_STYLE + CURSOR_SHOW + ALT_SCREEN_OFF);
  }
}
