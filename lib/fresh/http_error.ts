/**
 * `HttpError`: throw it anywhere in a handler or middleware to end the request with that status.
 * Browser-safe (islands may import it through `fresh/runtime`).
 * @module
 */

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** An error that carries an HTTP status; the app turns it into a response with that status. */
export class HttpError extends Error {
  /** The HTTP status code (400–599). */
  readonly status: number;

  /**
   * Creates an error that the app answers with `status` (and `_404`/`_error` pages).
   * @param status an HTTP error status (400–599); anything else becomes 500.
   * @param message shown to the client; defaults to the status text.
   * @param options standard `ErrorOptions` (`cause`).
   */
  constructor(status: number, message?: string, options?: ErrorOptions) {
    const valid = Number.isInteger(status) && status >= 400 && status <= 599;
    const code = valid ? status : 500;
    super(message ?? STATUS_TEXT[code] ?? `HTTP ${code}`, options);
    this.name = "HttpError";
    this.status = code;
  }
}
