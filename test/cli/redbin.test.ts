// The command-line client as a user runs it: bin/redbin.js spawned as a process against a real
// listening server and its throwaway Redis.
import { spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { REDBIN_BIN as BIN, runRedbin } from '../helpers/cli.js'
import { freePort, useTestRedis } from '../helpers/redis.js'

const db = useTestRedis()
let site: TestApp
let dir: string

beforeAll(async () => {
  const port = await freePort()
  site = await buildTestApp(db, { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, MAX_PASTE_BYTES: '8192' })
  await site.listen()
  dir = await mkdtemp(join(tmpdir(), 'redbin-cli-'))
  return () => site.app.close()
})

const redbin = (args: string[], options: { input?: string | Buffer; env?: Record<string, string> } = {}) =>
  runRedbin(site.config.publicUrl, args, options)

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, content)
  return path
}

const apiPaste = async (url: string) => (await fetch(`${site.config.publicUrl}/api/pastes/${new URL(url).pathname.slice(1)}`)).json() as Promise<Record<string, unknown>>
const TEXT = 'def launch():\n    return "🚀 at dawn"\r\n'

describe('redbin paste and get', () => {
  it('pastes a file and prints its URL; the delete token goes to stderr; get prints it byte for byte', async () => {
    const path = await file('launch.py', TEXT)
    const made = await redbin(['paste', path])
    expect(made.code, made.stderr).toBe(0)
    expect(made.stdout).toMatch(new RegExp(`^${site.config.publicUrl}/[A-Za-z0-9_-]{10}\\n$`))
    expect(made.stderr).toMatch(/^Delete token: \S+ \(shown once/)
    const url = made.stdout.trim()
    expect(await apiPaste(url)).toMatchObject({ kind: 'plain', title: 'launch.py', language: 'python', visibility: 'unlisted', content: TEXT })
    const got = await redbin(['get', url])
    expect(got).toEqual({ code: 0, stdout: TEXT, stderr: '' })
  })

  it('reads stdin and takes every option', async () => {
    const made = await redbin(['paste', '-', '--title', 'From a pipe', '--language', 'rust', '--expires', '1h', '--public'], { input: 'fn main() {}\n' })
    expect(made.code, made.stderr).toBe(0)
    const stored = await apiPaste(made.stdout.trim())
    expect(stored).toMatchObject({ title: 'From a pipe', language: 'rust', visibility: 'public', content: 'fn main() {}\n' })
    expect(Date.parse(stored.expiresAt as string) - Date.now()).toBeGreaterThan(3500_000)
  })

  it('takes the argument after an option as its value even when it starts with a dash, as getopt does', async () => {
    const made = await redbin(['paste', '-t', '-- notes', '--language', 'rust', '-'], { input: 'fn main() {}\n' })
    expect(made.code, made.stderr).toBe(0)
    expect(await apiPaste(made.stdout.trim())).toMatchObject({ title: '-- notes', language: 'rust', content: 'fn main() {}\n' })
    const afterEnd = await redbin(['paste', '--', '-t', 'x'], { input: 'y\n' })
    expect(afterEnd).toMatchObject({ code: 2, stderr: 'redbin: paste takes one FILE (or - for stdin).\n' })
    const named = await redbin(['paste', '--', '-t'], { input: 'y\n' })
    expect(named).toMatchObject({ code: 2, stderr: 'redbin: Cannot read -t: no such file.\n' })
  })

  it('checks --language of an encrypted paste here, as the server does for a plain one', async () => {
    const run = await redbin(['paste', '-', '--encrypt', '--language', 'klingon'], { input: 'Qapla\'\n' })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^redbin: --language must be auto or one of plaintext, bash, /)
  })

  it('encrypts with --encrypt: the URL carries the key, the server holds an envelope, get decrypts it', async () => {
    const path = await file('plans.py', TEXT)
    const made = await redbin(['paste', path, '--encrypt', '--public'])
    expect(made.code, made.stderr).toBe(0)
    expect(made.stderr).toMatch(/never listed; --public is ignored/)
    const url = made.stdout.trim()
    expect(url).toMatch(/\/[A-Za-z0-9_-]{10}#[A-Za-z0-9_-]{43}$/)
    const stored = await apiPaste(url)
    expect(stored).toMatchObject({ kind: 'encrypted', visibility: 'unlisted' })
    expect(JSON.stringify(stored)).not.toContain('dawn')
    expect(JSON.stringify(stored)).not.toContain('plans.py')
    expect(await redbin(['get', url])).toEqual({ code: 0, stdout: TEXT, stderr: '' })
  })

  it('says so, and exits 4, when the key is missing or wrong', async () => {
    const made = await redbin(['paste', '--encrypt'], { input: 'secret\n' })
    const url = made.stdout.trim()
    const missing = await redbin(['get', url.replace(/#.*/, '')])
    expect(missing.code).toBe(4)
    expect(missing.stderr).toMatch(/^redbin: This paste is encrypted, and the link has no key/)
    const other = (await redbin(['paste', '--encrypt'], { input: 'other\n' })).stdout.trim()
    const wrong = await redbin(['get', url.replace(/#.*/, other.slice(other.indexOf('#')))])
    expect(wrong.code).toBe(4)
    expect(wrong.stderr).toMatch(/does not open this paste/)
    const cut = await redbin(['get', url.slice(0, -5)])
    expect(cut.code).toBe(4)
    expect(cut.stderr).toMatch(/incomplete or altered/)
  })

  it('with --password, needs the password too (REDBIN_PASSWORD), and a wrong one exits 4', async () => {
    const made = await redbin(['paste', '--password', '--title', 'pw'], { input: TEXT, env: { REDBIN_PASSWORD: 'open sesame' } })
    expect(made.code, made.stderr).toBe(0)
    const url = made.stdout.trim()
    expect(await apiPaste(url)).toMatchObject({ envelope: { kdf: { name: 'PBKDF2-SHA-256', iterations: 600000 } } })
    expect(await redbin(['get', url], { env: { REDBIN_PASSWORD: 'open sesame' } })).toEqual({ code: 0, stdout: TEXT, stderr: '' })
    const wrong = await redbin(['get', url], { env: { REDBIN_PASSWORD: 'close sesame' } })
    expect(wrong).toMatchObject({ code: 4, stdout: '' })
    expect(wrong.stderr).toBe('redbin: That password is not the right one for this paste.\n')
    const none = await redbin(['get', url])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/no terminal to ask it on: set REDBIN_PASSWORD/)
  })

  it('consumes a burn paste when it reads it', async () => {
    const url = (await redbin(['paste', '--encrypt', '--burn'], { input: 'once\n' })).stdout.trim()
    expect((await redbin(['get', url])).stdout).toBe('once\n')
    const again = await redbin(['get', url])
    expect(again.code).toBe(3)
    expect(again.stderr).toMatch(/No such paste.*\(HTTP 404\)/)
  })
})

/**
 * Runs `redbin args…` on a pseudo-terminal (script(1)), typing each answer when its prompt
 * appears; returns everything the terminal showed.
 */
function onTerminal(args: string[], answers: string[], env: Record<string, string> = {}): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { PATH: process.env.PATH, REDBIN_URL: site.config.publicUrl, ...env },
      detached: true,
    })
    let screen = ''
    let prompts = 0
    const take = (chunk: Buffer) => {
      screen += chunk.toString()
      const seen = screen.match(/(Password|Password for the paste|Repeat the password): /g)?.length ?? 0
      while (prompts < seen && prompts < answers.length) child.stdin.write(`${answers[prompts++]}\n`)
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, screen }))
  })
}

describe('redbin on a terminal', () => {
  it('asks for the password twice without echoing it, and again after a wrong one', async () => {
    const path = await file('tty.txt', 'typed on a terminal\n')
    const made = await onTerminal(['paste', path, '--password'], ['first try', 'second try', 'tty secret', 'tty secret'])
    expect(made.code, made.screen).toBe(0)
    expect(made.screen).toMatch(/The passwords differ; try again/)
    const url = /(http\S+#\S+)/.exec(made.screen)![1]!
    const got = await onTerminal(['get', url], ['wrong one', 'tty secret'])
    expect(got.code, got.screen).toBe(0)
    expect(got.screen).toMatch(/not the right one; try again[\s\S]*typed on a terminal/)
    for (const typed of ['first try', 'second try', 'tty secret', 'wrong one']) expect(made.screen + got.screen).not.toContain(typed)
  })
})

describe('redbin delete', () => {
  it('deletes with the token; a wrong token exits 5, a gone paste 3, no token 2', async () => {
    const made = await redbin(['paste'], { input: 'delete me\n' })
    const url = made.stdout.trim()
    const token = /Delete token: (\S+)/.exec(made.stderr)![1]!
    expect((await redbin(['delete', url])).code).toBe(2)
    // A base64url token starts with "-" one time in 64: "--token -..." is still the token.
    for (const wrongToken of ['nope', '-nope']) {
      const wrong = await redbin(['delete', url, '--token', wrongToken])
      expect(wrong.code, wrong.stderr).toBe(5)
      expect(wrong.stderr).toMatch(/does not match this paste \(HTTP 403\)/)
    }
    expect(await redbin(['delete', url, '--token', token])).toMatchObject({ code: 0, stdout: `Deleted ${new URL(url).pathname.slice(1)}.\n` })
    expect((await redbin(['delete', url, '--token', token])).code).toBe(3)
  })
})

describe('redbin errors', () => {
  it('exits 2 on usage errors, with a sentence', async () => {
    for (const args of [['frobnicate'], ['paste', '--bogus'], ['paste', '-', '--encrypt', '--language', 'klingon'], ['paste', 'a', 'b'], ['get'], ['get', 'not a url at all'], ['paste', '/no/such/file']]) {
      const run = await redbin(args)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr, args.join(' ')).toMatch(/^redbin: .+\n$/)
    }
    const noArgs = await redbin([])
    expect(noArgs.code).toBe(2)
    expect(noArgs.stdout).toMatch(/^Usage:/)
    expect((await redbin(['--help'])).code).toBe(0)
  })

  it('refuses a file that is not UTF-8 text before sending it', async () => {
    const run = await redbin(['paste', await file('blob.bin', Buffer.from([0xff, 0xfe, 0x00]))])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/is not UTF-8 text/)
  })

  it('exits 5 with the server\'s reason when it refuses a paste', async () => {
    const run = await redbin(['paste', '--encrypt'], { input: 'x'.repeat(9000) })
    expect(run.code).toBe(5)
    expect(run.stderr).toMatch(/envelope\.ciphertext is \d+ bytes; the limit is 8192 bytes \(HTTP 413\)/)
    const empty = await redbin(['paste'], { input: '  \n' })
    expect(empty.code).toBe(5)
    expect(empty.stderr).toMatch(/content is empty/)
  })

  it('exits 6 when the server cannot be reached; --server wins over REDBIN_URL', async () => {
    const port = await freePort()
    const down = await redbin(['paste', '--server', `http://127.0.0.1:${port}`], { input: 'x\n' })
    expect(down.code).toBe(6)
    expect(down.stderr).toMatch(/Cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/)
    const bad = await redbin(['paste'], { input: 'x\n', env: { REDBIN_URL: 'ftp://nope' } })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/REDBIN_URL must be an http/)
  })
})
