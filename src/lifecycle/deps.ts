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
};
