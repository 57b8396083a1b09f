import http from "node:http";
import net from "node:net";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { ApiError, type ApiErrorBody } from "./api-error.js";
import type { Router } from "./router.js";
import { OperatorError } from "../core/errors.js";
import type { Logger } from "../core/log.js";

/** Largest request body accepted (bytes). */
const MAX_BODY_BYTES = 1024 * 1024;

/** Group id of a group name from /etc/group, or null when it does not exist. */
function groupId(name: string): number | null {
  if (!name) return null;
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const [n, , gid] = line.split(":");
      if (n === name && gid !== undefined) return Number(gid);
    }
  } catch {
    // no /etc/group: root-only socket
  }
  return null;
}

function isSocketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, "too_large", "request body over 1 MiB"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (size === 0) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new ApiError(400, "bad_json", "request body is not JSON"));
      }
    });
    req.on("error", reject);
  });
}

/**
 * The worker's control socket: HTTP+JSON over a unix socket, mode 0660, owned by
 * root and the socket group, so the CLI (root) and the bot (in the group) can use
 * it and nobody else can.
 */
export class ControlServer {
  private readonly server: http.Server;

  constructor(
    private readonly path: string,
    private readonly group: string,
    private readonly router: Router,
    private readonly log: Logger,
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // Long requests (e.g. deleting many accounts) are fine; idle keep-alive is not needed.
    this.server.keepAliveTimeout = 1000;
  }

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    if (existsSync(this.path)) {
      if (await isSocketAlive(this.path)) {
        throw new OperatorError(
          `another kuota worker is already serving ${this.path}`,
          "stop it first (systemctl stop kuota-worker), or set KUOTA_SOCKET to another path",
        );
      }
      unlinkSync(this.path); // left behind by a worker that was killed
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.path, () => resolve());
    });
    chmodSync(this.path, 0o660);
    const gid = groupId(this.group);
    if (gid !== null) chownSync(this.path, 0, gid);
    this.log.info(
      { socket: this.path, group: gid === null ? null : this.group },
      "control socket listening",
    );
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://kuota");
    const started = performance.now();
    let status = 200;
    let body: unknown;
    try {
      const { handler, params } = this.router.match(req.method ?? "GET", url.pathname);
      const payload = await readBody(req);
      body = await handler({
        method: req.method ?? "GET",
        path: url.pathname,
        params,
        query: url.searchParams,
        body: payload,
      });
    } catch (err) {
      if (err instanceof ApiError) {
        status = err.status;
        body = {
          error: { code: err.code, message: err.message, hint: err.hint },
        } satisfies ApiErrorBody;
      } else if (err instanceof OperatorError) {
        status = 409;
        body = {
          error: { code: "refused", message: err.message, hint: err.hint },
        } satisfies ApiErrorBody;
      } else {
        status = 500;
        this.log.error({ err, path: url.pathname }, "control request failed");
        body = {
          error: { code: "internal", message: (err as Error).message ?? String(err) },
        } satisfies ApiErrorBody;
      }
    }
    const text = JSON.stringify(body ?? null);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
    this.log.debug(
      { method: req.method, path: url.pathname, status, durationMs: performance.now() - started },
      "control request",
    );
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
