import type { Store } from '../model/index.js'
import { LANGUAGE_INFO } from '../shared/languages.js'
import type { CodeRenderer } from './CodeRenderer.js'
import { describeContent, type PageRenderer } from './PageRenderer.js'
import { Paste, PasteRevision, type PasteRecord } from './Paste.js'
import type { PasteLimits } from './PasteService.js'

/** What every read here checks first. It never includes content: a burn paste is never read. */
const META_COLUMNS = [
  'burn', 'kind', 'revision', 'title', 'language', 'visibility', 'size', 'lines', 'createdAt', 'expiresAt', 'editedAt',
  'added', 'removed', 'forkOf', 'forkOfRevision',
] as const
const LISTED_COLUMNS = ['revision', 'title', 'language', 'size', 'lines', 'createdAt', 'editedAt', 'added', 'removed'] as const
const EXTENSIONS = new Map(LANGUAGE_INFO.map((l) => [l.id, l.ext]))
/** The server cannot read an encrypted paste, so it never diffs one; nor does any other part of redbin yet. */
export const ENCRYPTED_DIFF = 'Diffs of encrypted pastes are computed nowhere on the server: it cannot read them. Open two revisions from the history, with the full link, to compare them in your browser.'

type Meta = Pick<PasteRecord, (typeof META_COLUMNS)[number]>

/** One revision of a paste, with its content. */
export interface Revision {
  id: string
  revision: number
  /** How many revisions the paste has (the latest's number). */
  revisions: number
  title: string
  language: string
  content: Buffer
  size: number
  lines: number
  /** When this revision was made. */
  createdAt: Date
  expiresAt: Date | null
  visibility: PasteRecord['visibility']
  /** An encrypted paste's revisions are envelopes (content), with no title, language or lines. */
  kind: PasteRecord['kind']
}

export interface RevisionSummary {
  revision: number
  createdAt: Date
  title: string
  language: string
  size: number
  lines: number
  /** Lines added and removed against the revision before; null for the first, or when too large to count. */
  added: number | null
  removed: number | null
}

/** One side of a diff: a paste and a revision of it (absent: the latest). */
export interface DiffSide {
  id: string
  revision?: number | undefined
}

export type DiffOutcome =
  | { kind: 'missing'; message: string }
  | { kind: 'too-large'; from: Revision; to: Revision }
  /** The worker's queue is full: try again later. */
  | { kind: 'busy' }
  /** `bytes`: the patch, or the page's part (its counts and the table), as UTF-8. */
  | { kind: 'diff'; from: Revision; to: Revision; bytes: Buffer }

/**
 * Reading a paste's past: any revision, the list of them, and diffs between revisions or between
 * two pastes. Every read loads a paste's flags first and stops at a burn paste, so nothing here
 * can read one without burning it. Each costs a fixed number of round trips (at most three),
 * whatever the number of revisions; diffs run on the worker, bounded in size and time.
 */
export class RevisionService {
  constructor(
    private readonly store: Store,
    private readonly pages: PageRenderer,
    private readonly code: CodeRenderer,
    private readonly limits: PasteLimits,
  ) {}

  /** Revision `n` of a paste with its content, or null (no paste, a burn paste, no such revision). */
  async revision(id: string, n: number): Promise<Revision | null> {
    const meta = await this.meta(id)
    if (!meta || n < 1 || n > meta.revision) return null
    return this.contentOf(id, meta, n)
  }

  /**
   * Revision `n`'s page, rendered on the worker (past revisions have no stored page); an
   * encrypted paste's is the shell of that revision's envelope, which the browser decrypts.
   */
  async revisionPage(id: string, n: number): Promise<Buffer | null> {
    const meta = await this.meta(id)
    if (!meta || n < 1 || n > meta.revision) return null
    const revision = await this.contentOf(id, meta, n)
    if (!revision) return null
    const shown = { revision: n, revisions: meta.revision }
    if (meta.kind === 'encrypted') {
      const stored = this.pages.encryptedPage({ ...meta, id, size: revision.size }, revision.content, this.code.browserOptions, shown)
      return Buffer.concat(this.pages.composePaste(stored, id, null, false))
    }
    const text = revision.content.toString()
    const codeHtml = await this.code.render(text, revision.language, revision.size).catch(() => this.code.renderPlainNow(text))
    const fields = {
      ...meta, id, title: revision.title, language: revision.language, size: revision.size, lines: revision.lines,
      editedAt: n === 1 ? null : revision.createdAt,
    }
    const stored = this.pages.pastePage(fields, codeHtml, describeContent(text), shown)
    return Buffer.concat(this.pages.composePaste(stored, id, null, false))
  }

  /** Every revision of a paste, newest first (two round trips), or null. */
  async listRevisions(id: string): Promise<{ kind: PasteRecord['kind']; title: string; language: string; items: RevisionSummary[] } | null> {
    const meta = await this.meta(id)
    if (!meta) return null
    const older = Array.from({ length: meta.revision - 1 }, (_, i) => meta.revision - 1 - i)
    const past = await PasteRevision.loadMany(this.store, id, older, LISTED_COLUMNS)
    const items = [meta, ...past].filter((r) => r !== null).map((r) => ({
      revision: r.revision,
      createdAt: r.editedAt ?? r.createdAt,
      title: r.title,
      language: r.language,
      size: r.size,
      lines: r.lines,
      added: r.added,
      removed: r.removed,
    }))
    return { kind: meta.kind, title: meta.title, language: meta.language, items }
  }

  /**
   * The diff from one side to the other (revisions of one paste, or two pastes), as a page's
   * HTML or a patch. Over DIFF_MAX_BYTES, or when jsdiff gives up within DIFF_TIMEOUT_MS, it is
   * 'too-large' and the caller offers the raw texts instead.
   */
  async diff(from: DiffSide, to: DiffSide, format: 'html' | 'patch'): Promise<DiffOutcome> {
    const [fromMeta, toMeta] = await Promise.all([this.meta(from.id), this.meta(to.id)])
    const missing = this.missingSide(from, fromMeta) ?? this.missingSide(to, toMeta)
    if (missing || !fromMeta || !toMeta) return { kind: 'missing', message: missing ?? '' }
    if (fromMeta.kind === 'encrypted' || toMeta.kind === 'encrypted') return { kind: 'missing', message: ENCRYPTED_DIFF }
    const toRevision = to.revision ?? toMeta.revision
    // Within one paste, the default is the revision before `to`.
    const fromRevision = from.revision ?? (from.id === to.id ? Math.max(1, toRevision - 1) : fromMeta.revision)
    const [a, b] = await Promise.all([this.contentOf(from.id, fromMeta, fromRevision), this.contentOf(to.id, toMeta, toRevision)])
    if (!a || !b) return { kind: 'missing', message: 'This paste does not exist. It may have expired or been deleted.' }
    if (a.size + b.size > this.limits.diffMaxBytes) return { kind: 'too-large', from: a, to: b }
    // Both sides carry the old side's file name, so that `git apply` and `patch` change that file.
    const name = `${a.id}.${EXTENSIONS.get(a.language) ?? 'txt'}`
    const diffed = this.code.diffBytes({
      format,
      oldText: a.content.toString(),
      newText: b.content.toString(),
      oldName: `a/${name}`,
      newName: `b/${name}`,
      oldLanguage: a.language,
      newLanguage: b.language,
      timeoutMs: this.limits.diffTimeoutMs,
    })
    let bytes: Buffer | null
    try {
      bytes = await diffed
    } catch {
      return { kind: 'busy' }
    }
    return bytes ? { kind: 'diff', from: a, to: b, bytes } : { kind: 'too-large', from: a, to: b }
  }

  /**
   * A paste's flags and latest fields, or null for none or a burn paste. One round trip, no
   * content. (An encrypted paste's revisions are its envelopes: they are served, never diffed.)
   */
  private async meta(id: string): Promise<Meta | null> {
    const meta = await Paste.load(this.store, id, { select: META_COLUMNS })
    return meta && !meta.burn ? meta : null
  }

  private missingSide(side: DiffSide, meta: Meta | null): string | null {
    if (!meta) return `Paste ${side.id} does not exist (it may have expired, been deleted, or been read once already).`
    if (side.revision !== undefined && (side.revision < 1 || side.revision > meta.revision)) {
      return `Paste ${side.id} has no revision ${side.revision}: it has ${meta.revision}.`
    }
    return null
  }

  /** Revision `n`'s content: the paste itself for the latest, else its history entry. One round trip. */
  private async contentOf(id: string, meta: Meta, n: number): Promise<Revision | null> {
    const common = { id, revision: n, revisions: meta.revision, expiresAt: meta.expiresAt, visibility: meta.visibility, kind: meta.kind }
    if (n === meta.revision) {
      const latest = await Paste.load(this.store, id, { select: ['content', 'revision'] })
      // An edit between the two reads made this revision a past one: read it there instead.
      if (latest && latest.revision !== n) return this.revision(id, n)
      return latest && { ...common, title: meta.title, language: meta.language, content: latest.content, size: meta.size, lines: meta.lines, createdAt: meta.editedAt ?? meta.createdAt }
    }
    const past = await PasteRevision.load(this.store, id, n)
    return past && { ...common, title: past.title, language: past.language, content: past.content, size: past.size, lines: past.lines, createdAt: past.editedAt ?? past.createdAt }
  }
}
