/**
 * One error class per cause. Operator mistakes (`OperatorError`) are printed as
 * one line without a stack; everything else is a bug or a transient failure and
 * keeps its stack.
 */

/** A mistake the seller can fix: bad configuration, missing tool, wrong argument. */
export class OperatorError extends Error {
  override name = "OperatorError";
  /**
   * @param message what happened, one line
   * @param hint what to do next, one line
   * @param exitCode 2 for usage mistakes, 1 for everything else
   */
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** The command line was used wrongly (exit code 2). */
export class UsageError extends OperatorError {
  override name = "UsageError";
  constructor(message: string, hint?: string) {
    super(message, hint, 2);
  }
}

/** The proxy engine (Xray/V2Ray) could not be reached over gRPC. Transient. */
export class EngineUnreachableError extends Error {
  override name = "EngineUnreachableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The engine answered with a gRPC error status. */
export class EngineError extends Error {
  override name = "EngineError";
  constructor(
    message: string,
    /** gRPC status code, e.g. 2 for UNKNOWN ("not found", "already exists"). */
    readonly code: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A system command (nft, userdel, ss ...) failed; the execa error is kept as `cause`. */
export class CommandFailedError extends Error {
  override name = "CommandFailedError";
  constructor(
    readonly command: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${command}: ${message}`, options);
  }
}

/** The worker's control socket is not there or not answering. */
export class WorkerDownError extends OperatorError {
  override name = "WorkerDownError";
  constructor(socketPath: string, detail: string) {
    super(
      `the kuota worker is not running (${socketPath}: ${detail})`,
      "start it with `kuota worker` or `systemctl start kuota-worker`",
    );
  }
}

/** Formats an operator error as the single line the CLI prints. */
export function formatOperatorError(err: OperatorError): string {
  return err.hint ? `kuota: ${err.message}; ${err.hint}` : `kuota: ${err.message}`;
}
