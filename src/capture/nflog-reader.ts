/**
 * Reads NFLOG records live: `tcpdump -i nflog:N -B 4096 -U -s 4096 -w -` writes a pcap stream to
 * a pipe, this class frames it into records as it arrives and parses them in small slices, so the
 * pipe is always drained and the kernel's socket buffer never overflows because Node was busy.
 * When parsing falls behind by more than {@link ReaderLimits.maxQueuedBytes}, new records are
 * dropped and counted instead of queued.
 */
import { execa, type ResultPromise } from "execa";
import { OperatorError } from "../core/errors.js";
import { PcapStream, type PcapRecord } from "./pcap-stream.js";
import { CaptureParser, type Sighting } from "./sightings.js";
import { CAPTURE_SNAPLEN } from "./capture-ruleset.js";

export interface ReaderLimits {
  /** Records parsed per slice before yielding to the event loop. Default 500. */
  sliceRecords: number;
  /** Captured bytes waiting for the parser before new records are dropped. Default 16 MiB. */
  maxQueuedBytes: number;
}

export interface ReaderCounts {
  /** Records framed from tcpdump's output (parsed or dropped). */
  received: number;
  /** Records dropped because the parser was behind. */
  dropped: number;
}

export interface NflogReaderOptions {
  group: number;
  onSightings: (sightings: Sighting[]) => void;
  /** tcpdump ended on its own (not through `stop`); `detail` is its last stderr line. */
  onExit: (detail: string) => void;
  /** The tcpdump binary. Default `tcpdump` from PATH. */
  binary?: string;
  /**
   * Start tcpdump through `setpriv --pdeathsig KILL` (util-linux 2.33+) so it dies with the worker
   * even after a SIGKILL; without setpriv it is started directly. Default true.
   */
  dieWithParent?: boolean;
  limits?: Partial<ReaderLimits>;
}

/** How long tcpdump gets after SIGINT before SIGKILL, ms. */
const STOP_GRACE_MS = 2_000;
/** The kernel flushes NFLOG batches about once a second; stopping sooner loses the last ones. */
const FLUSH_WAIT_MS = 1_100;

export class NflogReader {
  readonly parser = new CaptureParser();
  readonly #stream = new PcapStream();
  readonly #options: NflogReaderOptions;
  readonly #limits: ReaderLimits;
  #queue: PcapRecord[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #draining = false;
  #child: ResultPromise | null = null;
  #stopping = false;
  #stderrTail = "";
  #counts: ReaderCounts = { received: 0, dropped: 0 };

  constructor(options: NflogReaderOptions) {
    this.#options = options;
    this.#limits = { sliceRecords: 500, maxQueuedBytes: 16 * 1024 * 1024, ...options.limits };
  }

  get counts(): Readonly<ReaderCounts> {
    return this.#counts;
  }

  /** Records waiting for the parser. */
  get backlog(): number {
    return this.#queue.length - this.#queueHead;
  }

  /**
   * Spawns tcpdump and resolves once it listens. Throws OperatorError when tcpdump is missing or
   * cannot open the NFLOG group (no CAP_NET_ADMIN, another reader on the group).
   */
  async start(): Promise<void> {
    const tcpdump = this.#options.binary ?? "tcpdump";
    // -Z root: tcpdump's switch to its own user would clear the parent-death signal; it writes
    // only to the worker's pipe, so staying root opens no file as root.
    const args = ["-i", `nflog:${this.#options.group}`, "-B", "4096", "-U", "-n", "-Z", "root"];
    args.push("-s", String(CAPTURE_SNAPLEN), "-w", "-");
    if (this.#options.dieWithParent ?? true) {
      try {
        await this.#spawn("setpriv", ["--pdeathsig", "KILL", "--", tcpdump, ...args]);
        return;
      } catch (err) {
        if (!(err instanceof SetprivMissing)) throw err;
      }
    }
    await this.#spawn(tcpdump, args);
  }

  async #spawn(command: string, args: string[]): Promise<void> {
    const child = execa(command, args, {
      buffer: false,
      stdin: "ignore",
      reject: false,
      stripFinalNewline: false,
    });
    this.#child = child;
    this.#stderrTail = "";
    let listened = false;
    child.stdout.on("data", (chunk: Buffer) => this.#onData(chunk));
    const listening = new Promise<void>((resolve) => {
      child.stderr.on("data", (chunk: Buffer) => {
        this.#stderrTail = (this.#stderrTail + chunk.toString("utf8")).slice(-2_000);
        if (/listening on/.test(this.#stderrTail)) resolve();
      });
    });
    const ended = child.then((result) => {
      this.#child = null;
      this.#drain();
      const detail = lastLine(this.#stderrTail) || result.shortMessage || "exited";
      if (listened && !this.#stopping) this.#options.onExit(detail);
      return { result, detail };
    });
    const first = await Promise.race([listening.then(() => null), ended]);
    if (first === null) {
      listened = true;
      return;
    }
    const enoent = (first.result as { code?: string }).code === "ENOENT";
    if (enoent && command === "setpriv") throw new SetprivMissing();
    if (enoent || /failed to execute/.test(first.detail)) {
      throw new OperatorError(
        "tcpdump is not installed or not in PATH",
        "install it (`apt-get install tcpdump`) and restart the worker; host capture is off until then",
      );
    }
    throw new OperatorError(
      `tcpdump cannot read nflog:${this.#options.group}: ${first.detail}`,
      // Root is refused too when another socket holds the group (an old tcpdump, ulogd).
      process.getuid?.() === 0 || !/Operation not permitted|permission/i.test(first.detail)
        ? `stop the other program reading NFLOG group ${this.#options.group} (an old tcpdump?) or set CAPTURE_NFLOG_GROUP`
        : "run the worker as root or with CAP_NET_ADMIN and CAP_NET_RAW",
    );
  }

  /**
   * Waits ~1 s for the kernel's last batch, stops tcpdump with SIGINT (SIGKILL after 2 s) and
   * parses what is left.
   */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#stopping = true;
    if (child === null) return;
    await new Promise((resolve) => setTimeout(resolve, FLUSH_WAIT_MS));
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await child;
    clearTimeout(timer);
    this.#drainAll();
  }

  #onData(chunk: Buffer): void {
    for (const record of this.#stream.feed(chunk)) {
      this.#counts.received++;
      if (this.#queuedBytes + record.data.length > this.#limits.maxQueuedBytes) {
        this.#counts.dropped++;
        continue;
      }
      this.#queue.push(record);
      this.#queuedBytes += record.data.length;
    }
    this.#drain();
  }

  /** Parses one slice now and schedules the next, so reading the pipe is never held up. */
  #drain(): void {
    if (this.#draining || this.backlog === 0) return;
    this.#draining = true;
    setImmediate(() => {
      this.#draining = false;
      this.#parse(this.#limits.sliceRecords);
      this.#drain();
    });
  }

  #drainAll(): void {
    this.#parse(Number.POSITIVE_INFINITY);
  }

  #parse(maxRecords: number): void {
    const found: Sighting[] = [];
    let n = 0;
    while (this.#queueHead < this.#queue.length && n++ < maxRecords) {
      const record = this.#queue[this.#queueHead++] as PcapRecord;
      this.#queuedBytes -= record.data.length;
      const sighting = this.parser.handleRecord(record);
      if (sighting !== null) found.push(sighting);
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 4_096) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    if (found.length > 0) this.#options.onSightings(found);
  }
}

class SetprivMissing extends Error {}

function lastLine(text: string): string {
  return (
    text
      .trim()
      .split("\n")
      .filter((l) => !/^tcpdump: listening on|^\d+ packets/.test(l))
      .pop() ?? ""
  ).trim();
}
