/**
 * The host-capture pipeline without I/O: pcap bytes in, one sighting per connection out.
 * pcap stream → link layer → IP/TCP → per-flow reassembly → ClientHello or HTTP request.
 */
import { FlowTable, type Flow, type FlowLimits } from "./flows.js";
import { parseHttpRequest } from "./http-request.js";
import { networkPacket } from "./link-layer.js";
import { decodeTcpPacket } from "./packet.js";
import { PcapStream, type PcapRecord } from "./pcap-stream.js";
import { parseClientHello } from "./tls-client-hello.js";

/** A host a client asked for on one connection. Not deduplicated. */
export interface Sighting {
  /** Normalized host: lowercase, no trailing dot (see `normalizeHostName`). */
  host: string;
  /** Where the host came from: TLS SNI, or the HTTP request (target or `Host`). */
  kind: "sni" | "http";
  /** HTTP request target, at most 1 KiB; absent for SNI. */
  path?: string;
  /** HTTP `X-Forwarded-Host` (first entry), when sent. */
  forwardedHost?: string;
  /** HTTP `X-Real-Host`, when sent. */
  realHost?: string;
  sourceIp: string;
  sourcePort: number;
  destIp: string;
  destPort: number;
  /** Time of the connection's first captured packet, ms since the epoch. */
  tsMs: number;
}

/** Counters since the parser was made, for loss and health reporting. */
export interface CaptureStats {
  /** pcap records received; compare with the nft rule's packet counter to measure loss. */
  records: number;
  /** Records that were not a TCP segment over IPv4/IPv6 (or were malformed or fragments). */
  undecodable: number;
  /** Connections whose first bytes were read to a sighting. */
  sightings: number;
  /** Connections whose first bytes were neither TLS nor HTTP, or TLS/HTTP without a host. */
  unrecognized: number;
  /** Connections given up before a verdict: prefix cap reached, evicted, or idle timeout. */
  abandoned: number;
  /** Why the pcap stream stopped (bad magic, oversized record), or undefined. */
  streamError: string | undefined;
}

/**
 * Turns a pcap byte stream (as from `tcpdump -U -w -`) into sightings. Never throws on input;
 * memory is bounded by the flow limits plus one pcap record.
 */
export class CaptureParser {
  readonly #stream = new PcapStream();
  readonly #flows: FlowTable;
  #records = 0;
  #undecodable = 0;
  #sightings = 0;
  #unrecognized = 0;
  #full = 0;

  constructor(limits: Partial<FlowLimits> = {}) {
    this.#flows = new FlowTable(limits);
  }

  /** Feeds pcap bytes; returns the sightings they complete, in capture order. */
  feed(chunk: Uint8Array): Sighting[] {
    const sightings: Sighting[] = [];
    for (const record of this.#stream.feed(chunk)) {
      const sighting = this.handleRecord(record);
      if (sighting !== null) sightings.push(sighting);
    }
    return sightings;
  }

  /** Processes one captured frame, for callers that read records themselves. */
  handleRecord(record: PcapRecord): Sighting | null {
    this.#records++;
    const packet = networkPacket(record.linkType, record.data);
    const segment = packet === null ? null : decodeTcpPacket(packet);
    if (segment === null) {
      this.#undecodable++;
      return null;
    }
    const flow = this.#flows.accept(segment, record.tsMs);
    return flow === null ? null : this.#inspect(flow);
  }

  /** Connections tracked now, and payload bytes buffered for them. */
  get load(): { flows: number; bufferedBytes: number; streamBufferedBytes: number } {
    return {
      flows: this.#flows.size,
      bufferedBytes: this.#flows.bufferedBytes,
      streamBufferedBytes: this.#stream.bufferedBytes,
    };
  }

  get stats(): CaptureStats {
    const { evicted, timedOut } = this.#flows.stats;
    return {
      records: this.#records,
      undecodable: this.#undecodable,
      sightings: this.#sightings,
      unrecognized: this.#unrecognized,
      abandoned: evicted + timedOut + this.#full,
      streamError: this.#stream.error,
    };
  }

  /** Parses a flow whose prefix grew; finishes it once there is a verdict. */
  #inspect(flow: Flow): Sighting | null {
    const prefix = this.#flows.prefix(flow);
    const full = this.#flows.isFull(flow);
    const tls = parseClientHello(prefix);
    if (tls.kind === "sni") return this.#found(flow, { host: tls.host, kind: "sni" });
    if (tls.kind === "no-sni") return this.#unrecognizedFlow(flow);
    if (tls.kind === "need-more") return full ? this.#fullFlow(flow) : null;
    const http = parseHttpRequest(prefix, this.#flows.limits.maxPrefixBytes);
    if (http.kind === "need-more") return full ? this.#fullFlow(flow) : null;
    if (http.kind === "not-http" || http.host === null) return this.#unrecognizedFlow(flow);
    const sighting: Omit<Sighting, keyof Endpoints> = {
      host: http.host,
      kind: "http",
      path: http.path,
    };
    if (http.forwardedHost !== undefined) sighting.forwardedHost = http.forwardedHost;
    if (http.realHost !== undefined) sighting.realHost = http.realHost;
    return this.#found(flow, sighting);
  }

  #found(flow: Flow, found: Omit<Sighting, keyof Endpoints>): Sighting {
    this.#flows.finish(flow);
    this.#sightings++;
    return {
      ...found,
      sourceIp: flow.srcIp,
      sourcePort: flow.srcPort,
      destIp: flow.dstIp,
      destPort: flow.dstPort,
      tsMs: flow.firstTsMs,
    };
  }

  #unrecognizedFlow(flow: Flow): null {
    this.#flows.finish(flow);
    this.#unrecognized++;
    return null;
  }

  #fullFlow(flow: Flow): null {
    this.#flows.finish(flow);
    this.#full++;
    return null;
  }
}

type Endpoints = Pick<Sighting, "sourceIp" | "sourcePort" | "destIp" | "destPort" | "tsMs">;
