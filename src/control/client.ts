import http from "node:http";
import { OperatorError, WorkerDownError } from "../core/errors.js";
import type { ApiErrorBody } from "./api-error.js";

/** A refusal or failure reported by the worker, with its stable code. */
export class WorkerRequestError extends Error {
  override name = "WorkerRequestError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/**
 * Talks to the worker over its control socket. Used by the CLI and the bot; the
 * bot never touches the system in any other way.
 */
export class ControlClient {
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 30_000,
  ) {}

  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: payload
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
            : {},
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
            } catch {
              return reject(
                new Error(`worker answered ${res.statusCode} with a body that is not JSON`),
              );
            }
            if ((res.statusCode ?? 500) >= 400) {
              const e = (parsed as ApiErrorBody).error ?? {
                code: "unknown",
                message: "unknown error",
              };
              return reject(
                new WorkerRequestError(res.statusCode ?? 500, e.code, e.message, e.hint),
              );
            }
            resolve(parsed as T);
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT" || err.code === "ECONNREFUSED") {
          reject(
            new WorkerDownError(this.socketPath, err.code === "ENOENT" ? "no socket" : "refused"),
          );
        } else if (err.code === "EACCES") {
          reject(
            new OperatorError(
              `permission denied on the control socket ${this.socketPath}`,
              "run as root, or add the user to the socket group (KUOTA_SOCKET_GROUP)",
            ),
          );
        } else reject(err);
      });
      if (payload) req.write(payload);
      req.end();
    });
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }
}
