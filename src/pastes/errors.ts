/** A request the paste domain refuses, with the HTTP status and the field it concerns. */
export class PasteInputError extends Error {
  override name = 'PasteInputError'
  constructor(
    readonly status: 400 | 409 | 413 | 429 | 503,
    readonly field: string | null,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message)
  }
}
