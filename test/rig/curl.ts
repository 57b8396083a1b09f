/**
 * curl through a v2ray client's SOCKS5 inbound, reporting curl's own byte figures.
 *
 * What an engine's user counters should show for one transfer is the proxied payload each way:
 * downlink = size_header + size_download, uplink = size_request + size_upload. Those are
 * `downlinkBytes` / `uplinkBytes` below. They hold only when neither side uses chunked transfer
 * encoding or compression, since curl counts decoded body bytes (payload-server.ts never does; a
 * chunked 7-byte answer is 17 bytes on the wire). The figures are exact only for a finished transfer: a
 * killed curl writes nothing, and one stopped by `maxTimeSec` reports what it received, while the
 * engine has already counted what it forwarded into buffers.
 */
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { execa, type ResultPromise } from "execa";

const MARK = "KUOTA-CURL";
const WRITE_OUT = `\n${MARK} %{http_code} %{size_download} %{size_header} %{size_upload} %{size_request} %{exitcode}\n`;
const PROXY_ENV = /^(all|http|https|ftp|no|socks)_proxy$/i;

export interface CurlFigures {
  /** HTTP status of the last response; 0 when none arrived. */
  httpCode: number;
  /** Body bytes received (`%{size_download}`). */
  sizeDownload: number;
  /** Response header bytes received, status line included (`%{size_header}`). */
  sizeHeader: number;
  /** Body bytes sent (`%{size_upload}`). */
  sizeUpload: number;
  /** Request line and header bytes sent (`%{size_request}`). */
  sizeRequest: number;
  /** curl's exit code as curl saw it (`%{exitcode}`): 0 ok, 28 timeout, 56 receive failure... */
  exitCode: number;
  /** Bytes the server's user downlink counter should gain: sizeHeader + sizeDownload. */
  downlinkBytes: number;
  /** Bytes the server's user uplink counter should gain: sizeRequest + sizeUpload. */
  uplinkBytes: number;
}

export interface CurlOptions {
  /** SOCKS5 port of the v2ray client on 127.0.0.1; names are resolved by the proxy. */
  socksPort: number;
  /**
   * `--limit-rate`: bytes per second, or curl's syntax ("512K", "2M"). curl 7.88 overshoots it on
   * loopback (~10 MB in 2 s at "1M"); pace with the payload server's `rate` instead.
   */
  limitRate?: number | string;
  /** `--max-time` in seconds (fractions allowed). Default 120, a safety net; 0 disables it. */
  maxTimeSec?: number;
  /** Aborting sends curl SIGTERM; the result then has `aborted: true` and no figures. */
  signal?: AbortSignal;
}

export interface CurlResult {
  /** Parsed `-w` line; undefined when curl died before writing it (killed, aborted). */
  figures: CurlFigures | undefined;
  /** Process exit code; undefined when ended by a signal. */
  exitCode: number | undefined;
  signal: string | undefined;
  /** True when ended through `signal` or `kill()`. */
  aborted: boolean;
  stderr: string;
  command: string;
}

export interface CurlRun {
  pid: number | undefined;
  /** Settles when curl exits; never rejects. */
  result: Promise<CurlResult>;
  /** Ends curl (default SIGTERM). */
  kill(signal?: NodeJS.Signals): void;
}

/** curl exited non-zero, answered a non-2xx status, or wrote no figures. */
export class CurlError extends Error {
  override name = "CurlError";
  constructor(
    message: string,
    readonly result: CurlResult,
  ) {
    super(message);
  }
}

export type UploadSource = { bytes: number } | { file: string };

const liveDirs = new Set<string>();
const liveRuns = new Set<ResultPromise>();

after(async () => {
  for (const run of liveRuns) run.kill("SIGKILL");
  await Promise.allSettled([...liveRuns]);
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
});
process.on("exit", () => {
  for (const run of liveRuns) run.kill("SIGKILL");
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

function parseFigures(stdout: string): CurlFigures | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith(`${MARK} `));
  if (line === undefined) return undefined;
  const [httpCode, sizeDownload, sizeHeader, sizeUpload, sizeRequest, exitCode] = line
    .slice(MARK.length + 1)
    .split(" ")
    .map(Number) as [number, number, number, number, number, number];
  return {
    httpCode,
    sizeDownload,
    sizeHeader,
    sizeUpload,
    sizeRequest,
    exitCode,
    downlinkBytes: sizeHeader + sizeDownload,
    uplinkBytes: sizeRequest + sizeUpload,
  };
}

function proxyFreeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !PROXY_ENV.test(key)) env[key] = value;
  }
  return env;
}

function runCurl(extraArgs: string[], url: string, options: CurlOptions, dir?: string): CurlRun {
  const args = ["-q", "-sS", "-o", "/dev/null", "-w", WRITE_OUT];
  args.push("--socks5-hostname", `127.0.0.1:${options.socksPort}`, "--connect-timeout", "10");
  const maxTime = options.maxTimeSec ?? 120;
  if (maxTime > 0) args.push("--max-time", String(maxTime));
  if (options.limitRate !== undefined) args.push("--limit-rate", String(options.limitRate));
  args.push(...extraArgs, url);

  const subprocess = execa("curl", args, {
    reject: false,
    extendEnv: false,
    env: proxyFreeEnv(),
    cancelSignal: options.signal,
    forceKillAfterDelay: 2000,
  });
  liveRuns.add(subprocess);
  let killed = false;
  const result = subprocess.then((done): CurlResult => {
    liveRuns.delete(subprocess);
    if (dir !== undefined) {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    }
    return {
      figures: parseFigures(done.stdout),
      exitCode: done.exitCode,
      signal: done.signal,
      aborted: done.isCanceled || killed,
      stderr: done.stderr,
      command: done.command,
    };
  });
  return {
    pid: subprocess.pid,
    result,
    kill(signal = "SIGTERM") {
      killed = true;
      subprocess.kill(signal);
    },
  };
}

function writeRandomFile(path: string, bytes: number): void {
  const block = randomBytes(Math.min(bytes, 1024 * 1024));
  const fd = openSync(path, "w");
  try {
    for (let left = bytes; left > 0; left -= block.length) {
      writeSync(fd, block, 0, Math.min(left, block.length));
    }
  } finally {
    closeSync(fd);
  }
}

/** Starts `curl GET url` through the proxy; the body is discarded. */
export function startCurlDownload(url: string, options: CurlOptions): CurlRun {
  return runCurl([], url, options);
}

/**
 * Starts `curl POST url` through the proxy, streaming the body from a file (`-T`, with a
 * Content-Length and no `Expect: 100-continue`). `{ bytes }` writes a random file into a temporary
 * directory that is removed when curl exits.
 */
export function startCurlUpload(url: string, source: UploadSource, options: CurlOptions): CurlRun {
  let file: string;
  let dir: string | undefined;
  if ("file" in source) {
    file = source.file;
  } else {
    dir = mkdtempSync(join(tmpdir(), "kuota-upload-"));
    liveDirs.add(dir);
    file = join(dir, "body.bin");
    writeRandomFile(file, source.bytes);
  }
  const headers = ["-H", "Expect:", "-H", "Content-Type: application/octet-stream"];
  return runCurl(["-X", "POST", "-T", file, ...headers], url, options, dir);
}

/** Resolves the figures of a finished, successful (exit 0, HTTP 2xx) transfer, else throws CurlError. */
export async function expectSuccess(run: CurlRun): Promise<CurlFigures> {
  const result = await run.result;
  const { figures } = result;
  if (
    figures === undefined ||
    result.exitCode !== 0 ||
    figures.httpCode < 200 ||
    figures.httpCode > 299
  ) {
    const why = result.stderr.trim() || `exit ${result.exitCode ?? result.signal}`;
    throw new CurlError(`curl failed (HTTP ${figures?.httpCode ?? "none"}): ${why}`, result);
  }
  return figures;
}

/** Downloads `url` through the proxy and resolves curl's figures; throws CurlError on failure. */
export function curlDownload(url: string, options: CurlOptions): Promise<CurlFigures> {
  return expectSuccess(startCurlDownload(url, options));
}

/** Uploads to `url` through the proxy and resolves curl's figures; throws CurlError on failure. */
export function curlUpload(
  url: string,
  source: UploadSource,
  options: CurlOptions,
): Promise<CurlFigures> {
  return expectSuccess(startCurlUpload(url, source, options));
}
