// Realistic paste text: slices of real source files found on this machine (node_modules,
// Python's standard library, C headers, Perl modules, …), so that pastes mix languages the way
// a pastebin's do. Sizes follow the issue: 80% 0.5–4 KB, 15% 4–64 KB, 5% 64 KB–1 MiB,
// log-uniform within each bucket. A seeded generator makes two runs seed the same data.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'

export { seededRandom as randomGenerator } from '../test/helpers/random.js'

export type Bucket = 'small' | 'medium' | 'large'
export const BUCKETS: { bucket: Bucket; share: number; min: number; max: number }[] = [
  { bucket: 'small', share: 0.8, min: 512, max: 4 * 1024 },
  { bucket: 'medium', share: 0.15, min: 4 * 1024, max: 64 * 1024 },
  // The top stays a little under the 1 MiB paste limit.
  { bucket: 'large', share: 0.05, min: 64 * 1024, max: 1024 * 1024 - 4096 },
]

interface Source {
  /** Where to look, and which file names count. */
  roots: string[]
  pattern: RegExp
  /** Share of pastes cut from this kind of file. */
  weight: number
}

const SOURCES: Source[] = [
  { roots: ['node_modules'], pattern: /\.(js|mjs|cjs)$/, weight: 22 },
  { roots: ['node_modules', 'src', 'test'], pattern: /(?<!\.d)\.ts$/, weight: 10 },
  { roots: ['/usr/lib/python3', '/usr/lib/python3.11', '/usr/lib/python3.12', '/usr/lib/python3.13'], pattern: /\.py$/, weight: 20 },
  { roots: ['/usr/include'], pattern: /\.h$/, weight: 10 },
  { roots: ['/usr/share/perl', '/usr/share/perl5', '/usr/lib/x86_64-linux-gnu/perl-base'], pattern: /\.(pm|pl)$/, weight: 6 },
  { roots: ['node_modules', 'public'], pattern: /\.(css|scss)$/, weight: 5 },
  { roots: ['node_modules'], pattern: /\.md$/, weight: 8 },
  { roots: ['node_modules'], pattern: /\.json$/, weight: 5 },
  { roots: ['node_modules', '/usr/share', '/etc'], pattern: /\.(ya?ml)$/, weight: 4 },
  { roots: ['/usr/bin', '/usr/share', '/etc'], pattern: /\.(sh|bash)$/, weight: 3 },
  { roots: ['/usr/share', 'node_modules'], pattern: /\.(sql|c|go|rs|rb|java|html)$/, weight: 4 },
  { roots: ['/etc', '/usr/share/doc'], pattern: /\.(conf|txt)$/, weight: 3 },
]

const MAX_FILES_PER_SOURCE = 400
const MAX_ENTRIES_PER_ROOT = 60_000
const MAX_FILE_BYTES = 1536 * 1024
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Files under `root` (breadth-first, directories in random order, bounded), unreadable ones skipped. */
function walk(root: string, random: () => number): string[] {
  const found: string[] = []
  const queue = [root]
  let seen = 0
  while (queue.length > 0 && seen < MAX_ENTRIES_PER_ROOT) {
    // Directories from random places, so that one huge package cannot fill the budget.
    const dir = queue.splice(Math.floor(random() * queue.length), 1)[0]!
    let entries
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      continue
    }
    for (const entry of entries) {
      seen++
      const path = join(dir, entry.name)
      if (entry.isDirectory()) queue.push(path)
      else if (entry.isFile() && !/\.min\./.test(entry.name)) found.push(path)
    }
  }
  return found
}

/** An even spread of at most `limit` of `files`, in a stable order. */
function spread(files: string[], limit: number): string[] {
  const sorted = [...files].sort()
  const step = Math.max(1, sorted.length / limit)
  const picked: string[] = []
  for (let i = 0; i < sorted.length && picked.length < limit; i += step) picked.push(sorted[Math.floor(i)]!)
  return picked
}

/** A file's text, when it is UTF-8 text worth pasting. */
function readText(path: string): string | null {
  try {
    const size = statSync(path).size
    if (size < 200 || size > MAX_FILE_BYTES) return null
    const bytes = readFileSync(path)
    if (bytes.includes(0)) return null
    const text = utf8.decode(bytes)
    return text.trim().length > 0 ? text : null
  } catch {
    return null
  }
}

export interface PasteText {
  content: string
  /** The file it came from: a title, and a language hint through its extension. */
  fileName: string
}

export class Corpus {
  private readonly pools: { files: string[]; weight: number; cache: Map<string, string | null> }[]
  private readonly totalWeight: number

  constructor(private readonly random: () => number, cwd = process.cwd()) {
    const walked = new Map<string, string[]>()
    const filesUnder = (root: string) => {
      let files = walked.get(root)
      if (!files) walked.set(root, (files = walk(root.startsWith('/') ? root : join(cwd, root), random)))
      return files
    }
    this.pools = SOURCES.map((source) => {
      const matching = source.roots.flatMap((root) => filesUnder(root).filter((f) => source.pattern.test(f)))
      const files = spread([...new Set(matching)], MAX_FILES_PER_SOURCE)
      return { files, weight: files.length > 0 ? source.weight : 0, cache: new Map() }
    })
    this.totalWeight = this.pools.reduce((sum, p) => sum + p.weight, 0)
    if (this.totalWeight === 0) throw new Error('no source files found to build pastes from')
  }

  get fileCount(): number {
    return this.pools.reduce((sum, p) => sum + p.files.length, 0)
  }

  /** A size drawn from the bucket distribution (or within one bucket). */
  size(bucket?: Bucket): { bucket: Bucket; bytes: number } {
    let chosen = BUCKETS.find((b) => b.bucket === bucket)
    if (!chosen) {
      let r = this.random()
      chosen = BUCKETS.find((b) => (r -= b.share) < 0) ?? BUCKETS[0]!
    }
    const bytes = Math.round(Math.exp(Math.log(chosen.min) + this.random() * (Math.log(chosen.max) - Math.log(chosen.min))))
    return { bucket: chosen.bucket, bytes }
  }

  /**
   * About `bytes` bytes of text from one kind of source file, cut at line ends (so never
   * inside a UTF-8 sequence) and never over `bytes`.
   */
  text(bytes: number): PasteText {
    let r = this.random() * this.totalWeight
    const pool = this.pools.find((p) => (r -= p.weight) < 0) ?? this.pools.find((p) => p.weight > 0)!
    let content = ''
    let contentBytes = 0
    let fileName = ''
    for (let attempts = 0; contentBytes < bytes && attempts < 200; attempts++) {
      const file = pool.files[Math.floor(this.random() * pool.files.length)]!
      let text = pool.cache.get(file)
      if (text === undefined) {
        text = readText(file)
        pool.cache.set(file, text)
      }
      if (!text) continue
      fileName ||= basename(file)
      // Start at a random line in the first part of a file, so slices of one file differ.
      const lineStarts = text.length > 2000 ? text.indexOf('\n', Math.floor(this.random() * text.length * 0.5)) + 1 : 0
      // Never more than needed: a slice of a few times the target is plenty to cut from.
      let piece = text.slice(lineStarts, lineStarts + bytes * 2)
      if (!piece.endsWith('\n')) piece += '\n'
      content += piece
      contentBytes += Buffer.byteLength(piece)
    }
    content = cutAtLine(content, bytes)
    // Whitespace-only text is refused by the server; try another file.
    if (content.trim() === '') return this.text(bytes)
    return { content, fileName: fileName || 'paste.txt' }
  }
}

/** The longest prefix of whole lines within `bytes` bytes (at least one line, cut hard if need be). */
export function cutAtLine(text: string, bytes: number): string {
  const buffer = Buffer.from(text)
  if (buffer.length <= bytes) return text
  const end = buffer.lastIndexOf(0x0a, bytes - 1)
  if (end > 0) return buffer.subarray(0, end + 1).toString()
  // One enormous line: cut on a character boundary.
  return new TextDecoder().decode(buffer.subarray(0, bytes)).replace(/\uFFFD+$/, '')
}
