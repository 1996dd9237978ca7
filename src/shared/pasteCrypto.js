// The encrypted-paste format, version 1 (docs/encryption.md). One implementation for the
// browser (served as /static/m/<hash>/shared/pasteCrypto.js), the command-line client and the
// server's envelope checks: plain JavaScript with WebCrypto only, no Node API, no bare import.

export const FORMAT_VERSION = 1
export const ALGORITHM = 'AES-256-GCM'
export const KDF_NAME = 'PBKDF2-SHA-256'
/** OWASP's 2023 figure for PBKDF2-HMAC-SHA-256. */
export const MIN_ITERATIONS = 600_000
/** A reader derives the key with whatever the envelope says: more than this would hang them. */
export const MAX_ITERATIONS = 10_000_000
const KEY_BYTES = 32
const IV_BYTES = 12
const SALT_BYTES = 16
const CHECK_BYTES = 16
const TAG_BYTES = 16
/** Binds every ciphertext to this format and version: a v1 ciphertext never decrypts as another. */
const AAD = new TextEncoder().encode('redbin-paste:v1')
const CHECK_LABEL = new TextEncoder().encode('redbin-paste key check v1')
const BASE64URL = /^[A-Za-z0-9_-]*$/
const ENVELOPE_FIELDS = ['version', 'algorithm', 'kdf', 'keyCheck', 'iv', 'ciphertext']
const KDF_FIELDS = ['name', 'iterations', 'salt']

/**
 * @typedef {{ name: string, iterations: number, salt: string }} Kdf
 * @typedef {{ version: number, algorithm: string, kdf: Kdf | null, keyCheck: string, iv: string, ciphertext: string }} Envelope
 * @typedef {{ content: string, title: string, language: string }} Plaintext
 * @typedef {'missing-key' | 'bad-key' | 'wrong-key' | 'needs-password' | 'wrong-password' | 'damaged' | 'unsupported'} DecryptFailure
 */

/** Why a paste could not be decrypted; `reason` is for code, the message for people. */
export class DecryptError extends Error {
  /** @param {DecryptFailure} reason @param {string} message */
  constructor(reason, message) {
    super(message)
    this.name = 'DecryptError'
    this.reason = reason
  }
}

/** @param {Uint8Array} bytes */
export function toBase64Url(bytes) {
  let binary = ''
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let at = 0; at < bytes.length; at += 0x8000) {
    binary += String.fromCharCode.apply(null, Array.from(bytes.subarray(at, at + 0x8000)))
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * @param {string} text base64url without padding (checked by the caller)
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function fromBase64Url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** The length in characters of `bytes` bytes in base64url without padding. @param {number} bytes */
function base64Length(bytes) {
  return Math.ceil((bytes * 4) / 3)
}

/** The number of bytes a well-formed base64url string holds. @param {string} text */
export function base64Bytes(text) {
  return Math.floor((text.length * 3) / 4)
}

/** @param {number} n */
function randomBytes(n) {
  return crypto.getRandomValues(new Uint8Array(n))
}

/**
 * What is wrong with an envelope, naming the field; null when it is well formed. The server
 * answers with this before storing one, and readers check what they are given.
 * @param {unknown} value
 * @param {{ maxCiphertextBytes?: number }} [limits]
 * @returns {{ field: string, message: string, tooLarge?: boolean } | null}
 */
export function envelopeProblem(value, limits = {}) {
  /** @param {string} field @param {string} message */
  const problem = (field, message, tooLarge = false) => ({ field, message: `${field} ${message}`, ...(tooLarge ? { tooLarge } : {}) })
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return problem('envelope', 'must be an object')
  const envelope = /** @type {Record<string, unknown>} */ (value)
  for (const name of Object.keys(envelope)) {
    if (!ENVELOPE_FIELDS.includes(name)) return problem(fieldName('envelope', name), 'is not a field of an envelope')
  }
  if (envelope.version !== FORMAT_VERSION) return problem('envelope.version', `must be ${FORMAT_VERSION} (the only version this reads)`)
  if (envelope.algorithm !== ALGORITHM) return problem('envelope.algorithm', `must be "${ALGORITHM}"`)
  const kdf = envelope.kdf
  if (kdf !== null) {
    if (typeof kdf !== 'object' || kdf === undefined || Array.isArray(kdf)) return problem('envelope.kdf', 'must be null (no password) or an object')
    const k = /** @type {Record<string, unknown>} */ (kdf)
    for (const name of Object.keys(k)) {
      if (!KDF_FIELDS.includes(name)) return problem(fieldName('envelope.kdf', name), 'is not a field of kdf')
    }
    if (k.name !== KDF_NAME) return problem('envelope.kdf.name', `must be "${KDF_NAME}"`)
    if (!Number.isSafeInteger(k.iterations) || /** @type {number} */ (k.iterations) < MIN_ITERATIONS || /** @type {number} */ (k.iterations) > MAX_ITERATIONS) {
      return problem('envelope.kdf.iterations', `must be a whole number from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`)
    }
    const salt = exactBase64(k.salt, SALT_BYTES)
    if (salt) return problem('envelope.kdf.salt', salt)
  }
  for (const [name, bytes] of /** @type {const} */ ([['keyCheck', CHECK_BYTES], ['iv', IV_BYTES]])) {
    const wrong = exactBase64(envelope[name], bytes)
    if (wrong) return problem(`envelope.${name}`, wrong)
  }
  const ciphertext = envelope.ciphertext
  if (typeof ciphertext !== 'string' || ciphertext.length % 4 === 1 || !BASE64URL.test(ciphertext)) {
    return problem('envelope.ciphertext', 'must be base64url text (A-Z, a-z, 0-9, - and _, no padding)')
  }
  const size = base64Bytes(ciphertext)
  if (size <= TAG_BYTES) return problem('envelope.ciphertext', `must hold more than the ${TAG_BYTES}-byte tag`)
  if (limits.maxCiphertextBytes !== undefined && size > limits.maxCiphertextBytes) {
    return problem('envelope.ciphertext', `is ${size} bytes; the limit is ${limits.maxCiphertextBytes} bytes`, true)
  }
  return null
}

/** A field's name as a message shows it: `a.b`, or `a["odd name"]` (cut short). @param {string} parent @param {string} name */
function fieldName(parent, name) {
  return /^\w{1,40}$/.test(name) ? `${parent}.${name}` : `${parent}[${JSON.stringify(name.slice(0, 40))}]`
}

/** @param {unknown} value @param {number} bytes */
function exactBase64(value, bytes) {
  const length = base64Length(bytes)
  if (typeof value !== 'string' || value.length !== length || !BASE64URL.test(value)) {
    return `must be ${bytes} bytes as ${length} characters of base64url`
  }
  return null
}

/**
 * The envelope as stored and served: its fields in a fixed order, nothing else.
 * @param {Envelope} envelope a checked envelope
 */
export function serializeEnvelope(envelope) {
  const kdf = envelope.kdf && { name: envelope.kdf.name, iterations: envelope.kdf.iterations, salt: envelope.kdf.salt }
  return JSON.stringify({
    version: envelope.version, algorithm: envelope.algorithm, kdf, keyCheck: envelope.keyCheck, iv: envelope.iv, ciphertext: envelope.ciphertext,
  })
}

/** @param {Envelope} envelope */
export function needsPassword(envelope) {
  return envelope.kdf !== null
}

/** @param {Uint8Array<ArrayBuffer>} key */
async function keyCheckOf(key) {
  const joined = new Uint8Array(CHECK_LABEL.length + key.length)
  joined.set(CHECK_LABEL)
  joined.set(key, CHECK_LABEL.length)
  return new Uint8Array(await crypto.subtle.digest('SHA-256', joined)).subarray(0, CHECK_BYTES)
}

/**
 * The AES key: the link's key itself, or, with a password, PBKDF2 over both, so that neither
 * the link nor the password alone opens the paste.
 * @param {Uint8Array<ArrayBuffer>} key @param {Kdf | null} kdf @param {string | undefined} password
 */
async function aesKey(key, kdf, password) {
  if (kdf === null) return crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt'])
  const secret = new TextEncoder().encode((password ?? '').normalize('NFC'))
  const material = new Uint8Array(key.length + secret.length)
  material.set(key)
  material.set(secret, key.length)
  const base = await crypto.subtle.importKey('raw', material, 'PBKDF2', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: fromBase64Url(kdf.salt), iterations: kdf.iterations },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

/** @param {Plaintext} paste */
function encodePlaintext(paste) {
  // A JSON line for the small fields, then the content's bytes as they are: no escaping, so the
  // ciphertext is as long as the text plus a few dozen bytes.
  return new TextEncoder().encode(`${JSON.stringify({ title: paste.title, language: paste.language })}\n${paste.content}`)
}

/** @param {Uint8Array} bytes @returns {Plaintext} */
function decodePlaintext(bytes) {
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  const newline = text.indexOf('\n')
  if (newline < 0) throw new Error('not a redbin paste')
  const head = /** @type {{ title?: unknown, language?: unknown }} */ (JSON.parse(text.slice(0, newline)))
  if (typeof head.title !== 'string' || typeof head.language !== 'string') throw new Error('not a redbin paste')
  return { title: head.title, language: head.language, content: text.slice(newline + 1) }
}

/**
 * Encrypts a paste under a fresh random key. Returns the envelope (for the server) and the
 * key (for the link's fragment only).
 * @param {Plaintext} paste
 * @param {{ password?: string, iterations?: number }} [options]
 * @returns {Promise<{ envelope: Envelope, key: string }>}
 */
export async function encryptPaste(paste, options = {}) {
  const key = randomBytes(KEY_BYTES)
  const password = options.password || undefined
  const kdf = password === undefined
    ? null
    : { name: KDF_NAME, iterations: options.iterations ?? MIN_ITERATIONS, salt: toBase64Url(randomBytes(SALT_BYTES)) }
  const iv = randomBytes(IV_BYTES)
  const [aes, check] = await Promise.all([aesKey(key, kdf, password), keyCheckOf(key)])
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: AAD }, aes, encodePlaintext(paste)))
  return {
    envelope: { version: FORMAT_VERSION, algorithm: ALGORITHM, kdf, keyCheck: toBase64Url(check), iv: toBase64Url(iv), ciphertext: toBase64Url(ciphertext) },
    key: toBase64Url(key),
  }
}

/**
 * Checks the link's key against the envelope without decrypting: a wrong key is told apart from
 * a wrong password before anyone is asked for one.
 * @param {unknown} envelope @param {string | null | undefined} key
 * @returns {Promise<Envelope>}
 */
export async function checkKey(envelope, key) {
  const wrong = envelopeProblem(envelope)
  if (wrong) {
    const unsupported = wrong.field === 'envelope.version' || wrong.field === 'envelope.algorithm' || wrong.field === 'envelope.kdf.name'
    throw new DecryptError(unsupported ? 'unsupported' : 'damaged', unsupported
      ? 'This paste was encrypted in a format this version of redbin cannot read.'
      : `This paste's encrypted data is damaged (${wrong.message}).`)
  }
  const checked = /** @type {Envelope} */ (envelope)
  if (!key) throw new DecryptError('missing-key', 'This paste is encrypted, and the link has no key. The key is the part after # in the full link: ask whoever shared it for the whole link.')
  if (key.length !== base64Length(KEY_BYTES) || !BASE64URL.test(key)) {
    throw new DecryptError('bad-key', 'The key in this link is incomplete or altered: the link may have been cut short when it was copied.')
  }
  const check = toBase64Url(await keyCheckOf(fromBase64Url(key)))
  if (check !== checked.keyCheck) throw new DecryptError('wrong-key', 'The key in this link does not open this paste: the link may have been altered, or belongs to another paste.')
  return checked
}

/**
 * Decrypts a paste with the link's key (and its password, when it has one).
 * @param {unknown} envelope @param {string | null | undefined} key @param {string} [password]
 * @returns {Promise<Plaintext>}
 */
export async function decryptPaste(envelope, key, password) {
  const checked = await checkKey(envelope, key)
  if (needsPassword(checked) && !password) throw new DecryptError('needs-password', 'This paste is protected with a password.')
  const aes = await aesKey(fromBase64Url(/** @type {string} */ (key)), checked.kdf, password)
  let plain
  try {
    plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64Url(checked.iv), additionalData: AAD }, aes, fromBase64Url(checked.ciphertext))
  } catch {
    // The key matched its check, so with a password only the password can be wrong.
    if (needsPassword(checked)) throw new DecryptError('wrong-password', 'That password is not the right one for this paste.')
    throw new DecryptError('damaged', "This paste's encrypted data is damaged: it does not decrypt with its key.")
  }
  try {
    return decodePlaintext(new Uint8Array(plain))
  } catch {
    throw new DecryptError('damaged', 'This paste decrypted, but not to a redbin paste.')
  }
}

/** The size of the ciphertext a paste will have: the server's MAX_PASTE_BYTES applies to it. @param {Plaintext} paste */
export function ciphertextSize(paste) {
  return encodePlaintext(paste).length + TAG_BYTES
}

/**
 * The fragment of an encrypted paste's link: the key, then optionally "/" and a line anchor
 * ("L10" or "L10-L20"). The key comes first, so it never mixes with the anchor; neither ever
 * reaches the server.
 * @param {string} hash location.hash or a URL's fragment, with or without "#"
 * @returns {{ key: string | null, lines: string | null }}
 */
export function parseFragment(hash) {
  const fragment = hash.replace(/^#/, '')
  const slash = fragment.indexOf('/')
  const key = slash < 0 ? fragment : fragment.slice(0, slash)
  const lines = slash < 0 ? '' : fragment.slice(slash + 1)
  return { key: key || null, lines: lines || null }
}

/** @param {string} key @param {string | null} [lines] */
export function formatFragment(key, lines) {
  return lines ? `${key}/${lines}` : key
}
