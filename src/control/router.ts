import { ApiError } from "./api-error.js";

export type Request = {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
};

export type Handler = (req: Request) => Promise<unknown>;

type Route = { method: string; pattern: RegExp; keys: string[]; handler: Handler };

/**
 * A minimal method + path router for the control socket. Written by hand: the
 * API has a dozen routes, and a framework would add more code than it saves.
 * Patterns use `:name` segments, e.g. `/v1/accounts/:name`.
 */
export class Router {
  private readonly routes: Route[] = [];

  on(method: string, path: string, handler: Handler): this {
    const keys: string[] = [];
    const source = path
      .split("/")
      .map((seg) => {
        if (!seg.startsWith(":")) return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        keys.push(seg.slice(1));
        return "([^/]+)";
      })
      .join("/");
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  get(path: string, handler: Handler): this {
    return this.on("GET", path, handler);
  }

  post(path: string, handler: Handler): this {
    return this.on("POST", path, handler);
  }

  delete(path: string, handler: Handler): this {
    return this.on("DELETE", path, handler);
  }

  /** Finds the handler; throws ApiError 404/405 when none fits. */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] as string)));
      return { handler: r.handler, params };
    }
    if (pathMatched)
      throw new ApiError(405, "method_not_allowed", `${method} ${path} is not allowed`);
    throw new ApiError(404, "not_found", `no such endpoint: ${path}`);
  }
}
