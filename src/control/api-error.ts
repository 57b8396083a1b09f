/**
 * An error a control-socket route answers with: an HTTP status, a stable code
 * the CLI and the bot can branch on, and a one-line message with the next step.
 */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The JSON body of every failed request. */
export type ApiErrorBody = { error: { code: string; message: string; hint?: string } };
