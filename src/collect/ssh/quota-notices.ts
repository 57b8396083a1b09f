/**
 * Tells the SSH collector the moment the kernel drops a packet of an account over its quota: the
 * drop rule logs the packet to an NFLOG group (KUOTA_QUOTA_NFLOG_GROUP), `tcpdump -i nflog:N -w -`
 * hands it over as pcap, and each record becomes the connection it belongs to. The log prefix is
 * one per table, so the account is found from the packet's addresses, not from the record.
 */
import { execa, type ResultPromise } from "execa";
import { OperatorError } from "../../core/errors.js";
import { networkPacket } from "../../capture/link-layer.js";
import { decodeTcpPacket } from "../../capture/packet.js";
import { PcapStream } from "../../capture/pcap-stream.js";
import { QUOTA_SNAPLEN } from "./nft-ruleset.js";

/** The addresses of one dropped packet. */
export interface DroppedPacket {
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
}

export interface QuotaNoticeOptions {
  group: number;
  onDrop: (packet: DroppedPacket) => void;
  /** tcpdump ended on its own; `detail` is its last stderr line. */
  onExit: (detail: string) => void;
  /** The tcpdump binary. Default `tcpdump` from PATH. */
  binary?: string;
}

/** How long tcpdump gets to say it listens (ms). */
const START_TIMEOUT_MS = 5_000;

export class QuotaNotices {
  readonly #options: QuotaNoticeOptions;
  readonly #stream = new PcapStream();
  #child: ResultPromise | null = null;
  #stopping = false;

  constructor(options: QuotaNoticeOptions) {
    this.#options = options;
  }

  /**
   * Starts tcpdump (through `setpriv --pdeathsig KILL` when present, so it dies with the worker)
   * and resolves once it listens. Throws OperatorError when tcpdump is missing or the group is
   * taken or refused.
   */
  async start(): Promise<void> {
    const tcpdump = this.#options.binary ?? "tcpdump";
    // -Z root: dropping to tcpdump's user would clear the parent-death signal.
    const args = ["-i", `nflog:${this.#options.group}`, "-U", "-n", "-Z", "root"];
    args.push("-s", String(QUOTA_SNAPLEN), "-w", "-");
    const setpriv = await execa("setpriv", ["--version"], { reject: false });
    const [command, argv] =
      setpriv.exitCode === 0
        ? ["setpriv", ["--pdeathsig", "KILL", "--", tcpdump, ...args]]
        : [tcpdump, args];
    const child = execa(command, argv, { buffer: false, stdin: "ignore", reject: false });
    this.#child = child;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => this.#onData(chunk));
    const listening = new Promise<boolean>((resolve) => {
      child.stderr.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString("utf8")).slice(-2_000);
        if (/listening on/.test(stderr)) resolve(true);
      });
      setTimeout(() => resolve(false), START_TIMEOUT_MS).unref();
    });
    const ended = child.then((result) => {
      this.#child = null;
      const detail = lastLine(stderr) || result.shortMessage || "exited";
      if (!this.#stopping) this.#options.onExit(detail);
      return { detail, enoent: (result as { code?: string }).code === "ENOENT" };
    });
    const first = await Promise.race([listening, ended]);
    if (first === true) return;
    this.#stopping = true;
    child.kill("SIGKILL");
    const why = first === false ? { detail: "no answer", enoent: false } : first;
    if (why.enoent || /failed to execute|No such file/.test(why.detail)) {
      throw new OperatorError(
        "tcpdump is not installed or not in PATH",
        "install it (`apt-get install tcpdump`); until then an account over its SSH quota is cut by the kernel and deleted at the next poll",
      );
    }
    throw new OperatorError(
      `tcpdump cannot read nflog:${this.#options.group}: ${why.detail}`,
      `stop the other program reading NFLOG group ${this.#options.group} or set KUOTA_QUOTA_NFLOG_GROUP`,
    );
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (child === null) return;
    child.kill("SIGKILL");
    await child;
  }

  #onData(chunk: Buffer): void {
    for (const record of this.#stream.feed(chunk)) {
      const packet = networkPacket(record.linkType, record.data);
      const segment = packet === null ? null : decodeTcpPacket(packet);
      if (segment === null) continue;
      const { srcIp, srcPort, dstIp, dstPort } = segment;
      this.#options.onDrop({ srcIp, srcPort, dstIp, dstPort });
    }
  }
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split("\n")
    .filter((l) => !/^tcpdump: listening on|^\d+ packets/.test(l));
  return (lines.pop() ?? "").trim();
}
