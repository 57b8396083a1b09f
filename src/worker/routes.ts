import { Router } from "../control/router.js";
import { ApiError } from "../control/api-error.js";
import { accountView } from "./views.js";
import type { Store } from "../store/store.js";
import type { XrayCollector } from "../collect/xray/xray-collector.js";

export type RouteDeps = {
  store: Store;
  xray: XrayCollector;
  startedAt: Date;
  /** Status of the optional components, keyed by component name. */
  status: () => Record<string, unknown>;
};

/** The read side of the control API. Capabilities add their own routes to the router. */
export function baseRoutes(router: Router, deps: RouteDeps): Router {
  const { store } = deps;
  router.get("/v1/usage", async () => {
    const accounts = await store.listAccounts();
    return { accounts: accounts.map((a) => accountView(a)) };
  });
  router.get("/v1/usage/:name", async (req) => {
    const a = await store.getAccount(req.params.name ?? "");
    if (!a) {
      throw new ApiError(
        404,
        "no_account",
        `no account named ${req.params.name}`,
        "list them with `kuota account list`",
      );
    }
    return accountView(a);
  });
  router.get("/v1/status", async () => {
    const accounts = await store.listAccounts();
    return {
      worker: {
        pid: process.pid,
        startedAt: deps.startedAt.toISOString(),
        uptimeS: Math.round(process.uptime()),
      },
      accounts: { total: accounts.length, present: accounts.filter((a) => a.present).length },
      xray: deps.xray.status,
      ...deps.status(),
    };
  });
  return router;
}
