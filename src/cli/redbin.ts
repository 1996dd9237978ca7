// redbin, the command-line client: paste, get and delete, plain or encrypted in the same format
// as the browser (src/shared/pasteCrypto.js). Arguments are parsed by node:util's parseArgs.
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { detectLanguage } from '../pastes/detectLanguage.js'
import { LANGUAGE_INFO } from '../shared/languages.js'
import { checkKey, decryptPaste, DecryptError, encryptPaste, needsPassword, parseFragment, type Envelope } from '../shared/pasteCrypto.js'
import { CliError, EXIT } from './CliError.js'
import { PasswordSource } from './password.js'

const DEFAULT_SERVER = 'http://localhost:3000'
const PASSWORD_TRIES = 3

export const USAGE = `Usage:
  redbin paste [FILE|-] [--expires 1d] [--burn] [--public] [--title T] [--language L] [--encrypt] [--password]
  redbin get URL
  redbin delete URL --token TOKEN

paste    reads FILE (or stdin) and prints the new paste's URL; its delete token goes to stderr.
         --encrypt encrypts it here: the URL's fragment (after #) holds the key.
         --password (implies --encrypt) asks for a password, or reads REDBIN_PASSWORD.
get      prints a paste, decrypting it when the URL has a key (asking for its password if needed).
delete   deletes a paste with the token its creator was given.

--server URL or REDBIN_URL: the server (default ${DEFAULT_SERVER}); get and delete use the URL's.
Exit codes: 0 done, 2 usage, 3 no such paste, 4 cannot decrypt, 5 refused by the server,
6 server unreachable or failing.`

const COMMON = { server: { type: 'string' }, help: { type: 'boolean', short: 'h' } } satisfies ParseArgsConfig['options']

const COMMANDS = {
  paste: {
    ...COMMON,
    expires: { type: 'string', short: 'e' },
    burn: { type: 'boolean' },
    public: { type: 'boolean' },
    title: { type: 'string', short: 't' },
    language: { type: 'string', short: 'l' },
    encrypt: { type: 'boolean' },
    password: { type: 'boolean' },
  },
  get: COMMON,
  delete: { ...COMMON, token: { type: 'string' } },
} satisfies Record<string, ParseArgsConfig['options']>

interface Io {
  env: NodeJS.ProcessEnv
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
}

/** Runs one command; returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const passwords = new PasswordSource(io.env)
  try {
    const [command, ...rest] = argv
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(`${USAGE}\n`)
      return command === undefined ? EXIT.usage : EXIT.ok
    }
    if (!Object.hasOwn(COMMANDS, command)) throw new CliError(EXIT.usage, `Unknown command "${command}": use paste, get or delete.`)
    const name = command as keyof typeof COMMANDS
    const args = parse(name, rest)
    if (args.values.help) {
      io.stdout.write(`${USAGE}\n`)
      return EXIT.ok
    }
    if (name === 'paste') await paste(args.values as PasteOptions, args.positionals, io, passwords)
    else if (name === 'get') await get(args.positionals, args.values.server, io, passwords)
    else await remove(args.positionals, args.values as { token?: string; server?: string }, io)
    return EXIT.ok
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`redbin: ${err.message}\n`)
      return err.exitCode
    }
    throw err
  } finally {
    passwords.close()
  }
}

function parse(command: keyof typeof COMMANDS, args: string[]) {
  const options = COMMANDS[command]
  try {
    return parseArgs({ args: attachValues(args, options), options, allowPositionals: true, strict: true })
  } catch (err) {
    // parseArgs explains unknown options and missing values in a sentence of its own.
    throw new CliError(EXIT.usage, `${(err as Error).message.split(/\.( |$)/)[0]}. See redbin --help.`)
  }
}

/**
 * Joins each string option to the argument after it ("--token -x" becomes "--token=-x"), as
 * getopt does. parseArgs refuses a value that starts with a dash, and a delete token (base64url)
 * or a title may: one token in 64 does.
 */
function attachValues(args: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const joined: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') return joined.concat(args.slice(i))
    const name = arg.startsWith('--') ? arg.slice(2) : /^-[^-]$/.test(arg) ? Object.keys(options).find((key) => options[key]!.short === arg[1]) : undefined
    if (name !== undefined && Object.hasOwn(options, name) && options[name]!.type === 'string' && i + 1 < args.length) joined.push(`--${name}=${args[++i]}`)
    else joined.push(arg)
  }
  return joined
}

interface PasteOptions {
  expires?: string
  burn?: boolean
  public?: boolean
  title?: string
  language?: string
  encrypt?: boolean
  password?: boolean
  server?: string
}

async function paste(options: PasteOptions, positionals: string[], io: Io, passwords: PasswordSource) {
  if (positionals.length > 1) throw new CliError(EXIT.usage, 'paste takes one FILE (or - for stdin).')
  const server = serverUrl(options.server, io.env)
  const file = positionals[0]
  if (file === undefined && io.stdin.isTTY) throw new CliError(EXIT.usage, 'Give a FILE, or pipe the text in: some-command | redbin paste -')
  const bytes = file === undefined || file === '-' ? await readAll(io.stdin) : await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new CliError(EXIT.usage, `Cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}.`)
  })
  let content: string
  try {
    content = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    throw new CliError(EXIT.usage, `${file === undefined || file === '-' ? 'stdin' : file} is not UTF-8 text.`)
  }
  const fileName = file === undefined || file === '-' ? undefined : basename(file)
  const title = options.title ?? fileName ?? ''
  const shared = { ...(options.expires !== undefined ? { expires: options.expires } : {}), burn: options.burn ?? false }

  if (!options.encrypt && !options.password) {
    const language = options.language ?? (fileName ? detectLanguage(content, fileName) : 'auto')
    const created = await request<{ url: string; deleteToken: string }>('POST', `${server}/api/pastes`, {
      content, title, language, visibility: options.public ? 'public' : 'unlisted', ...shared,
    })
    io.stdout.write(`${created.url}\n`)
    io.stderr.write(`Delete token: ${created.deleteToken} (shown once: keep it to delete the paste)\n`)
    return
  }
  if (options.public) io.stderr.write('redbin: encrypted pastes are never listed; --public is ignored.\n')
  // The server never sees the language: decide (or check) it here, as it would for a plain paste.
  const language = !options.language || options.language === 'auto' ? detectLanguage(content, fileName) : knownLanguage(options.language)
  const password = options.password ? await passwords.ask('Password for the paste: ', true) : undefined
  const { envelope, key } = await encryptPaste({ content, title, language }, password ? { password } : {})
  const created = await request<{ url: string; deleteToken: string }>('POST', `${server}/api/pastes`, { envelope, ...shared })
  io.stdout.write(`${created.url}#${key}\n`)
  io.stderr.write(`Delete token: ${created.deleteToken} (shown once: keep it to delete the paste)\n`)
}

type ApiPaste = { kind: 'plain'; content: string } | { kind: 'encrypted'; envelope: Envelope }

async function get(positionals: string[], server: string | undefined, io: Io, passwords: PasswordSource) {
  const { origin, id, hash } = pasteAddress(positionals, server, io.env, 'get')
  const { key } = parseFragment(hash)
  const found = await request<ApiPaste>('GET', `${origin}/api/pastes/${id}`)
  if (found.kind !== 'encrypted') {
    io.stdout.write(found.content)
    return
  }
  try {
    // A wrong key is told before anyone is asked for a password.
    const envelope = await checkKey(found.envelope, key)
    let password: string | undefined
    for (let attempt = 1; ; attempt++) {
      if (needsPassword(envelope)) password = await passwords.ask('Password: ')
      try {
        io.stdout.write((await decryptPaste(envelope, key, password)).content)
        return
      } catch (err) {
        const again = err instanceof DecryptError && err.reason === 'wrong-password' && passwords.interactive && attempt < PASSWORD_TRIES
        if (!again) throw err
        io.stderr.write('That password is not the right one; try again.\n')
      }
    }
  } catch (err) {
    if (err instanceof DecryptError) throw new CliError(EXIT.cannotDecrypt, err.message)
    throw err
  }
}

async function remove(positionals: string[], options: { token?: string; server?: string }, io: Io) {
  const { origin, id } = pasteAddress(positionals, options.server, io.env, 'delete')
  if (!options.token) throw new CliError(EXIT.usage, 'delete needs --token TOKEN: the delete token printed when the paste was created.')
  await request('DELETE', `${origin}/api/pastes/${id}`, undefined, { authorization: `Bearer ${options.token}` })
  io.stdout.write(`Deleted ${id}.\n`)
}

/** A language id, or a file extension standing for one (py: python). */
function knownLanguage(wanted: string): string {
  const name = wanted.trim().toLowerCase()
  const found = LANGUAGE_INFO.find((l) => l.id === name) ?? LANGUAGE_INFO.find((l) => l.ext === name)
  if (!found) throw new CliError(EXIT.usage, `--language must be auto or one of ${LANGUAGE_INFO.map((l) => l.id).join(', ')}; got "${wanted}".`)
  return found.id
}

function serverUrl(option: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw = option ?? (env.REDBIN_URL || DEFAULT_SERVER)
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
    throw new CliError(EXIT.usage, `${option !== undefined ? '--server' : 'REDBIN_URL'} must be an http:// or https:// URL, got "${raw}".`)
  }
  return raw.replace(/\/+$/, '')
}

/** A paste's server, id and fragment, from its URL (or its id alone, on --server). */
function pasteAddress(positionals: string[], server: string | undefined, env: NodeJS.ProcessEnv, command: string) {
  const [target, ...extra] = positionals
  if (target === undefined || extra.length > 0) throw new CliError(EXIT.usage, `${command} takes one URL.`)
  const url = URL.canParse(target) ? new URL(target) : new URL(target, `${serverUrl(server, env)}/`)
  const id = /^\/([A-Za-z0-9_-]{10})(?:\/(?:raw|download))?\/?$/.exec(url.pathname)?.[1]
  if (!id || !/^https?:$/.test(url.protocol)) throw new CliError(EXIT.usage, `"${target}" is not the URL of a paste.`)
  return { origin: url.origin, id, hash: url.hash }
}

async function request<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  let res: Response
  try {
    res = await fetch(url, {
      method,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? null : JSON.stringify(body),
    })
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    throw new CliError(EXIT.unavailable, `Cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}.`)
  }
  const text = await res.text()
  if (res.ok) return (text ? JSON.parse(text) : undefined) as T
  let message = text.trim()
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? message
  } catch {
    // Not JSON: a proxy's page, say. Its text is the message.
  }
  message = `${message.slice(0, 500).replace(/\.$/, '')} (HTTP ${res.status}).`
  if (res.status === 404) throw new CliError(EXIT.notFound, message)
  if (res.status >= 500) throw new CliError(EXIT.unavailable, message)
  throw new CliError(EXIT.refused, message)
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))
  return Buffer.concat(chunks)
}
