// The encrypted-paste format on its own: what the browser, the CLI and the server share.
import { describe, expect, it } from 'vitest'
import {
  checkKey, ciphertextSize, decryptPaste, encryptPaste, envelopeProblem, formatFragment, fromBase64Url, MIN_ITERATIONS,
  parseFragment, serializeEnvelope, toBase64Url, type Envelope,
} from '../../src/shared/pasteCrypto.js'

const paste = { content: 'print("héllo 🌍")\r\nline two\n', title: 'secret plans', language: 'python' }

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (err) {
    return (err as { reason?: string }).reason ?? String(err)
  }
  throw new Error('expected a failure')
}

describe('the encrypted-paste format', () => {
  it('round-trips content, title and language exactly, with a fresh 256-bit key per paste', async () => {
    const a = await encryptPaste(paste)
    const b = await encryptPaste(paste)
    expect(fromBase64Url(a.key)).toHaveLength(32)
    expect(a.key).not.toBe(b.key)
    expect(a.envelope.iv).not.toBe(b.envelope.iv)
    expect(await decryptPaste(a.envelope, a.key)).toEqual(paste)
    expect(a.envelope.kdf).toBeNull()
    expect(envelopeProblem(a.envelope)).toBeNull()
  })

  it('keeps everything private inside the ciphertext', async () => {
    const { envelope } = await encryptPaste(paste)
    const stored = serializeEnvelope(envelope)
    for (const secret of ['secret plans', 'python', 'héllo', 'line two']) expect(stored).not.toContain(secret)
    expect(Object.keys(JSON.parse(stored))).toEqual(['version', 'algorithm', 'kdf', 'keyCheck', 'iv', 'ciphertext'])
  })

  it('with a password, needs both the key and the password (PBKDF2-SHA-256, 600,000 iterations, random salt)', async () => {
    const { envelope, key } = await encryptPaste(paste, { password: 'correct horse' })
    expect(envelope.kdf).toMatchObject({ name: 'PBKDF2-SHA-256', iterations: MIN_ITERATIONS })
    expect(fromBase64Url(envelope.kdf!.salt)).toHaveLength(16)
    expect(await decryptPaste(envelope, key, 'correct horse')).toEqual(paste)
    expect(await failure(decryptPaste(envelope, key))).toBe('needs-password')
    expect(await failure(decryptPaste(envelope, key, 'wrong horse'))).toBe('wrong-password')
  })

  it('tells a missing, cut or wrong key apart from a wrong password', async () => {
    const { envelope, key } = await encryptPaste(paste, { password: 'pw' })
    const other = await encryptPaste(paste)
    expect(await failure(decryptPaste(envelope, null, 'pw'))).toBe('missing-key')
    expect(await failure(decryptPaste(envelope, key.slice(0, 30), 'pw'))).toBe('bad-key')
    expect(await failure(decryptPaste(envelope, other.key, 'pw'))).toBe('wrong-key')
    // The key is checked before any password is needed.
    await expect(checkKey(envelope, key)).resolves.toBeTruthy()
  })

  it('refuses a tampered ciphertext', async () => {
    const { envelope, key } = await encryptPaste(paste)
    const bytes = fromBase64Url(envelope.ciphertext)
    bytes[0] = bytes[0]! ^ 1
    expect(await failure(decryptPaste({ ...envelope, ciphertext: toBase64Url(bytes) }, key))).toBe('damaged')
  })

  it('reads only version 1 and says so', async () => {
    const { envelope, key } = await encryptPaste(paste)
    expect(await failure(decryptPaste({ ...envelope, version: 2 }, key))).toBe('unsupported')
  })

  it('counts the ciphertext as the text plus a small header and the tag', async () => {
    const { envelope } = await encryptPaste(paste)
    expect(fromBase64Url(envelope.ciphertext)).toHaveLength(ciphertextSize(paste))
    expect(ciphertextSize(paste) - Buffer.byteLength(paste.content)).toBeLessThan(80)
  })

  it('names the field of a malformed envelope', async () => {
    const { envelope } = await encryptPaste(paste, { password: 'pw' })
    const cases: [unknown, string][] = [
      [null, 'envelope'],
      [[], 'envelope'],
      [{ ...envelope, extra: 1 }, 'envelope.extra'],
      [{ ...envelope, version: '1' }, 'envelope.version'],
      [{ ...envelope, algorithm: 'AES-128-CBC' }, 'envelope.algorithm'],
      [{ ...envelope, kdf: 'pbkdf2' }, 'envelope.kdf'],
      [{ ...envelope, kdf: { ...envelope.kdf, name: 'argon2' } }, 'envelope.kdf.name'],
      [{ ...envelope, kdf: { ...envelope.kdf, iterations: 1000 } }, 'envelope.kdf.iterations'],
      [{ ...envelope, kdf: { ...envelope.kdf, iterations: 1e12 } }, 'envelope.kdf.iterations'],
      [{ ...envelope, kdf: { ...envelope.kdf, salt: 'abc' } }, 'envelope.kdf.salt'],
      [{ ...envelope, kdf: { ...envelope.kdf, pepper: 'x' } }, 'envelope.kdf.pepper'],
      [{ ...envelope, iv: `${envelope.iv.slice(1)}+` }, 'envelope.iv'],
      [{ ...envelope, keyCheck: undefined }, 'envelope.keyCheck'],
      [{ ...envelope, ciphertext: 'a+b/' }, 'envelope.ciphertext'],
      [{ ...envelope, ciphertext: 'abcde' }, 'envelope.ciphertext'],
      [{ ...envelope, ciphertext: 'AAAA' }, 'envelope.ciphertext'],
    ]
    for (const [value, field] of cases) {
      expect(envelopeProblem(value)?.field, JSON.stringify(value).slice(0, 80)).toBe(field)
    }
    const big = envelopeProblem(envelope as Envelope, { maxCiphertextBytes: 10 })
    expect(big).toMatchObject({ field: 'envelope.ciphertext', tooLarge: true })
  })

  it('keeps the key and the line anchor apart in the fragment', () => {
    expect(parseFragment('#abc')).toEqual({ key: 'abc', lines: null })
    expect(parseFragment('#abc/L10-L20')).toEqual({ key: 'abc', lines: 'L10-L20' })
    expect(parseFragment('')).toEqual({ key: null, lines: null })
    expect(formatFragment('abc', 'L3')).toBe('abc/L3')
    expect(formatFragment('abc')).toBe('abc')
  })
})
