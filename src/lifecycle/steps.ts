/**
 * Reported steps: the operations that change the system (delete, lock, unlock)
 * run every step, report each, and never stop at a failing one, so a rerun
 * finishes what is left.
 */
import { EngineUnreachableError, OperatorError } from "../core/errors.js";
import type { DeletionReport } from "../control/api.js";
import type { AccountWithUsage } from "../store/store.js";
import type { LifecycleDeps } from "./deps.js";

export type Step = DeletionReport["steps"][number];

/** Runs one reported step; resolves whether it succeeded. */
export type StepRunner = (label: string, action: () => Promise<string>) => Promise<boolean>;

/**
 * A StepRunner appending to `steps`: a failing step is reported, never thrown, so the next steps
 * still run. Failures that are not the operator's or the engine's are logged as `failure`.
 */
export function stepRunner(
  deps: LifecycleDeps,
  name: string,
  steps: Step[],
  failure: string,
): StepRunner {
  return async (label, action) => {
    try {
      steps.push({ step: label, ok: true, detail: await action() });
      return true;
    } catch (err) {
      if (!(err instanceof OperatorError) && !(err instanceof EngineUnreachableError)) {
        deps.log.warn({ err, user: name, step: label }, failure);
      }
      const detail =
        err instanceof OperatorError && err.hint
          ? `${err.message}; ${err.hint}`
          : err instanceof Error
            ? err.message
            : String(err);
      steps.push({ step: label, ok: false, detail });
      return false;
    }
  };
}

/**
 * Closes an operation: one log line with the outcome (`done` or `incomplete`
 * in the message) and the report the control API answers.
 */
export function finishReport(
  deps: LifecycleDeps,
  account: Pick<AccountWithUsage, "name" | "protocol">,
  steps: Step[],
  messages: { done: string; incomplete: string },
  fields: Record<string, unknown> = {},
): DeletionReport {
  const complete = steps.every((s) => s.ok);
  deps.log.info(
    {
      user: account.name,
      protocol: account.protocol,
      ...fields,
      complete,
      failed: steps.filter((s) => !s.ok).map((s) => s.step),
    },
    complete ? messages.done : messages.incomplete,
  );
  return { account: account.name, protocol: account.protocol, steps, complete };
}
