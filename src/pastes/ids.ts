import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { nanoid } from 'nanoid'

/** 10 characters of nanoid's 64-letter alphabet: 60 random bits. */
const ID_LENGTH = 10
export const ID_PATTERN = /^[A-Za-z0-9_-]{10}$/
export const ID_PATTERN_SOURCE = '^[A-Za-z0-9_-]{10}$'

export function newPasteId(): string {
  return nanoid(ID_LENGTH)
}

export function isPasteId(value: string): boolean {
  return ID_PATTERN.test(value)
}

/** A delete token: 128 random bits, shown to the creator once and stored only as a hash. */
export function newDeleteToken(): { token: string; hash: string } {
  const token = randomBytes(16).toString('base64url')
  return { token, hash: hashToken(token) }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** Compares a presented token with a stored hash in constant time. */
export function tokenMatches(token: string, storedHash: string): boolean {
  const presented = Buffer.from(hashToken(token))
  const stored = Buffer.from(storedHash)
  return presented.length === stored.length && timingSafeEqual(presented, stored)
}
