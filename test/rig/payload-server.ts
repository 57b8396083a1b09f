/**
 * The far end of every proxied transfer: a plain HTTP server on 127.0.0.1 that the v2ray server's
 * freedom outbound connects to.
 *
 * - `GET /bytes/N[?rate=R]` answers exactly N body bytes with a Content-Length. The bytes repeat a
 *   1 MiB random block: incompressible for the proxies, cheap to produce.
 * - `POST /sink[?rate=R]` (or PUT) reads the whole body and answers its length in bytes as text.
 * - `rate` paces the server side to R bytes per second (10 ms ticks). Use it for long transfers:
 *   curl 7.88's `--limit-rate` overshoots on loopback (2 s at 1M moved ~10 MB here).
 * No answer is chunked (see `reply`).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after } from "node:test";

const BLOCK = randomBytes(1024 * 1024);
const MAX_BYTES = 64 * 1024 ** 3;
const TICK_MS = 10;

export interface PayloadServer {
  /** Listening port on 127.0.0.1. */
  port: number;
  /** `http://127.0.0.1:PORT/bytes/N`, paced to `rate` bytes/s when given. */
  bytesUrl(bytes: number, options?: { rate?: number }): string;
  /** `http://127.0.0.1:PORT/sink`, read at `rate` bytes/s when given. */
  sinkUrl(options?: { rate?: number }): string;
  /** Body bytes received by `/sink` since start, all requests together (finished or not). */
  sinkReceived(): number;
  /**
   * Bytes handed to client sockets since start (status lines, headers and bodies, all
   * connections): an upper bound on what a proxy in between can have read from this server.
   */
  bytesSent(): number;
  /** Drops open connections and stops listening. Safe to call twice. */
  close(): Promise<void>;
}

const liveServers = new Set<PayloadServer>();

after(async () => {
  await Promise.all([...liveServers].map((server) => server.close()));
});

/** Bytes allowed by now for a transfer paced at `rate` bytes/s that started at `startedAt`. */
function allowance(rate: number | undefined, startedAt: number): number {
  if (rate === undefined) return Number.POSITIVE_INFINITY;
  return Math.floor(((Date.now() - startedAt + TICK_MS) / 1000) * rate);
}

function streamBytes(res: ServerResponse, total: number, rate: number | undefined): void {
  res.writeHead(200, {
    "content-type": "application/octet-stream",
    "content-length": String(total),
  });
  const startedAt = Date.now();
  let sent = 0;
  const pump = (): void => {
    while (sent < total && !res.destroyed) {
      const budget = allowance(rate, startedAt) - sent;
      if (budget <= 0) {
        setTimeout(pump, TICK_MS);
        return;
      }
      const size = Math.min(total - sent, BLOCK.length, budget);
      const chunk = size === BLOCK.length ? BLOCK : BLOCK.subarray(0, size);
      sent += size;
      if (!res.write(chunk)) {
        res.once("drain", pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

function sinkBody(req: IncomingMessage, rate: number | undefined, onByte: (n: number) => void) {
  return new Promise<number>((resolve) => {
    const startedAt = Date.now();
    let count = 0;
    req.on("data", (chunk: Buffer) => {
      count += chunk.length;
      onByte(chunk.length);
      const ahead = count - allowance(rate, startedAt);
      if (rate !== undefined && ahead > 0) {
        req.pause();
        setTimeout(() => req.resume(), Math.ceil((ahead / rate) * 1000));
      }
    });
    req.on("end", () => resolve(count));
  });
}

/**
 * Every answer carries a Content-Length: a chunked one would put framing on the wire that curl's
 * `size_download` leaves out (17 bytes sent for a 7-byte body), breaking the byte-exact formula.
 */
function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    "content-type": "text/plain",
    "content-length": String(Buffer.byteLength(body)),
  });
  res.end(body);
}

function parseRate(url: URL): number | undefined | "bad" {
  const text = url.searchParams.get("rate");
  if (text === null) return undefined;
  const rate = Number(text);
  return Number.isSafeInteger(rate) && rate > 0 ? rate : "bad";
}

/** Starts a payload server on a kernel-chosen port of 127.0.0.1. */
export async function startPayloadServer(): Promise<PayloadServer> {
  let received = 0;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.on("error", () => undefined);
    res.on("error", () => undefined);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const rate = parseRate(url);
    if (rate === "bad") {
      reply(res, 400, "rate must be a positive integer (bytes per second)\n");
      return;
    }
    const bytesMatch = /^\/bytes\/(\d+)$/.exec(url.pathname);
    if (req.method === "GET" && bytesMatch?.[1] !== undefined) {
      const total = Number(bytesMatch[1]);
      if (!Number.isSafeInteger(total) || total > MAX_BYTES) {
        reply(res, 400, "byte count too large\n");
        return;
      }
      streamBytes(res, total, rate);
      return;
    }
    if ((req.method === "POST" || req.method === "PUT") && url.pathname === "/sink") {
      void sinkBody(req, rate, (n) => (received += n)).then((count) => {
        reply(res, 200, String(count));
      });
      return;
    }
    reply(res, 404, "try GET /bytes/N or POST /sink\n");
  };

  const server = createServer(handle);
  const sockets = new Set<import("node:net").Socket>();
  let closedSent = 0;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      closedSent += socket.bytesWritten;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const query = (rate: number | undefined): string => (rate === undefined ? "" : `?rate=${rate}`);
  let closing: Promise<void> | undefined;
  const payload: PayloadServer = {
    port,
    bytesUrl: (bytes, options) => `http://127.0.0.1:${port}/bytes/${bytes}${query(options?.rate)}`,
    sinkUrl: (options) => `http://127.0.0.1:${port}/sink${query(options?.rate)}`,
    sinkReceived: () => received,
    bytesSent: () => closedSent + [...sockets].reduce((sum, s) => sum + s.bytesWritten, 0),
    close() {
      closing ??= new Promise<void>((resolve) => {
        liveServers.delete(payload);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
  liveServers.add(payload);
  return payload;
}
