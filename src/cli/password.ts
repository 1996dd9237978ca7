import { openSync } from 'node:fs'
import { ReadStream, WriteStream } from 'node:tty'
import { read } from 'read'
import { CliError, EXIT } from './CliError.js'

/**
 * The password: REDBIN_PASSWORD, else asked on the terminal without echo. The terminal, not
 * stdin and stdout, which may carry the paste itself: `cat notes | redbin paste --password`.
 */
export class PasswordSource {
  private tty: { input: ReadStream; output: WriteStream } | null | undefined

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** True when a wrong password can be asked again. */
  get interactive(): boolean {
    return this.env.REDBIN_PASSWORD === undefined && this.terminal() !== null
  }

  async ask(prompt: string, confirm = false): Promise<string> {
    const fromEnv = this.env.REDBIN_PASSWORD
    if (fromEnv !== undefined) {
      if (fromEnv === '') throw new CliError(EXIT.usage, 'REDBIN_PASSWORD is empty.')
      return fromEnv
    }
    const tty = this.terminal()
    if (!tty) throw new CliError(EXIT.usage, 'A password is needed, and there is no terminal to ask it on: set REDBIN_PASSWORD.')
    const ask = (text: string) => read({ prompt: text, silent: true, replace: '', input: tty.input, output: tty.output })
    try {
      for (;;) {
        const password = await ask(prompt)
        if (!password) {
          tty.output.write('The password must not be empty.\n')
          continue
        }
        if (!confirm || (await ask('Repeat the password: ')) === password) return password
        tty.output.write('The passwords differ; try again.\n')
      }
    } catch (err) {
      // Ctrl-C or Ctrl-D at the prompt.
      throw new CliError(EXIT.usage, `No password given (${(err as Error).message}).`)
    }
  }

  close(): void {
    if (this.tty) {
      this.tty.input.destroy()
      this.tty.output.destroy()
    }
  }

  private terminal() {
    if (this.tty === undefined) {
      try {
        this.tty = { input: new ReadStream(openSync('/dev/tty', 'r')), output: new WriteStream(openSync('/dev/tty', 'w')) }
      } catch {
        this.tty = null
      }
    }
    return this.tty
  }
}
