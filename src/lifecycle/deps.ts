import type { Config } from "../config/config.js";
import type { Logger } from "../core/log.js";
import type { Store } from "../store/store.js";
import type { UsageFiles } from "../export/usage-files.js";
import type { Flavor } from "../engine/proto.js";

/** What creating and deleting accounts needs from the worker. */
export type LifecycleDeps = {
  config: Config;
  log: Logger;
  store: Store;
  usageFiles: UsageFiles;
  /** The engine API flavour the collector detected, null until it has. */
  engineFlavor: () => Flavor | null;
  /**
   * SSH accounting, once the worker built it: a deleted account is forgotten there (its last
   * bytes stored, its sessions and counters gone) so the collector never mistakes the missing
   * counters for a flushed table. Absent in tools that run the lifecycle alone.
   */
  ssh?: { forget(user: string): Promise<void> };
};
