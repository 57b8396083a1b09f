import type { Router } from "../control/router.js";

/**
 * A part of the worker with a lifecycle: SSH accounting, host capture, the
 * account lifecycle... Components start in list order and stop in reverse.
 * A component whose optional capability is missing (no nft, no tcpdump) starts
 * anyway, says so once in its log, and reports it in `status()`.
 */
export interface WorkerComponent {
  /** Key under which `status()` appears in GET /v1/status, e.g. "ssh", "capture". */
  readonly name: string;
  start(): Promise<void>;
  /** Stops and persists; must be safe to call when `start` failed half-way. */
  stop(): Promise<void>;
  /** Adds the component's control-API routes. */
  routes?(router: Router): void;
  status?(): unknown;
}
