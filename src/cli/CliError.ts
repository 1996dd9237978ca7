/**
 * What `redbin` exits with; scripts may rely on these (README, "The command-line client").
 * 1 is left for the unexpected: a bug, reported with its stack.
 */
export const EXIT = {
  ok: 0,
  usage: 2,
  notFound: 3,
  cannotDecrypt: 4,
  refused: 5,
  unavailable: 6,
} as const

/** A failure the client explains in a sentence and exits with. */
export class CliError extends Error {
  override name = 'CliError'
  constructor(readonly exitCode: (typeof EXIT)[keyof typeof EXIT], message: string) {
    super(message)
  }
}
