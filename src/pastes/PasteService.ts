import { isUtf8 } from 'node:buffer'
import { setImmediate as yieldToOthers } from 'node:timers/promises'
import { parseExpires } from '../config.js'
import { DuplicateKeyError, VersionConflictError, VersionLimitError, type Store } from '../model/index.js'
import { LANGUAGE_INFO } from '../shared/languages.js'
import type { CodeRenderer } from './CodeRenderer.js'
import { detectLanguage } from './detectLanguage.js'
import { PasteInputError } from './errors.js'
import { isPasteId, newDeleteToken, newPasteId, tokenMatches } from './ids.js'
import { describeContent, type PageFacts, type PageFields, type PageRenderer, type StoredPage } from './PageRenderer.js'
import { Paste, PasteRevision, VISIBILITIES, type PasteRecord, type Visibility } from './Paste.js'
import { countLines, decodeUtf8, encodeUtf8, textHead } from './textPasses.js'
import { base64Bytes, envelopeProblem, serializeEnvelope, type Envelope } from '../shared/pasteCrypto.js'

export interface PasteLimits {
  maxPasteBytes: number
  defaultExpiresSeconds: number | null
  maxExpiresSeconds: number | null
  maxRevisions: number
  diffMaxBytes: number
  diffTimeoutMs: number
}

/** What a client sends; every field is checked here, whatever route it came through. */
export interface NewPaste {
  /** Raw uploads arrive as bytes and must be valid UTF-8; forms and JSON arrive as text. */
  content: string | Buffer | undefined
  title?: string | undefined
  language?: string | undefined
  expires?: string | number | undefined
  visibility?: string | undefined
  burn?: string | boolean | undefined
  /** An uploaded file's name: a language hint and, without a title, the title. */
  fileName?: string | undefined
  /** A fork's origin: the paste and its revision. */
  forkOf?: string | undefined
  forkOfRevision?: string | number | undefined
}

/**
 * An edit: the new content, and the title and language when they change; or, for an encrypted
 * paste, the new revision's envelope (encrypted by the client, under the paste's link key).
 */
export type PasteEdit = {
  content: string | Buffer | undefined
  title?: string | undefined
  language?: string | undefined
} | { envelope: unknown }

/** What the edit form needs: a plain paste's latest text, or an encrypted one's envelope to decrypt in the browser. */
export type EditSource = { revision: number; owner: boolean } & (
  | { kind: 'plain'; content: string; title: string; language: string }
  | { kind: 'encrypted'; envelope: string }
)

/** An encrypted paste: the envelope, and the options the server still sees. */
export interface NewEncryptedPaste {
  envelope: unknown
  expires?: string | number | undefined
  burn?: string | boolean | undefined
  /** Encrypted pastes are never listed: anything asked here is accepted and stored unlisted. */
  visibility?: string | undefined
}

export type PasteData = Omit<PasteRecord, 'deleteTokenHash' | 'page' | 'slotAt' | 'renderVersion'>
export type RawPaste = Pick<PasteRecord, (typeof RAW_COLUMNS)[number]>
/** What a page view reads of a paste. */
type ViewRecord = Pick<PasteRecord, (typeof VIEW_COLUMNS)[number]>
export type ListedPaste = Pick<PasteRecord, (typeof LIST_COLUMNS)[number]>
/** A page goes out in parts (PageRenderer.composePaste): see sendParts in routes/shared.ts. */
export type PageView = { kind: 'page'; html: Buffer[] } | { kind: 'burn' }

const MAX_TITLE_CHARS = 200
// Raw reads select only these: every column loaded is a field Redis sends and the model decodes.
const RAW_COLUMNS = ['kind', 'language', 'visibility', 'burn', 'content', 'expiresAt', 'revision'] as const
const DATA_COLUMNS = [
  'id', 'kind', 'title', 'language', 'visibility', 'burn', 'content', 'size', 'lines', 'createdAt', 'expiresAt', 'views',
  'revision', 'editedAt', 'added', 'removed', 'forkOf', 'forkOfRevision',
] as const
/** An edit reads the whole paste but its stored page, which it replaces. */
const EDIT_COLUMNS = [...DATA_COLUMNS, 'deleteTokenHash'] as const
/** How long an edit waits for the worker to render the new revision's page. */
const EDIT_WAIT_FOR_PAGE_MS = 1500
const LIST_COLUMNS = ['id', 'title', 'language', 'size', 'lines', 'createdAt'] as const
/**
 * What a page view reads: the page, and what decides how it is shown. Not the title, language or
 * visibility: the stored page has them, and a burn paste's interstitial shows none of them.
 */
const VIEW_COLUMNS = ['burn', 'page', 'slotAt', 'renderVersion', 'views', 'deleteTokenHash'] as const
const LANGUAGE_IDS = new Set(LANGUAGE_INFO.map((l) => l.id))
const LANGUAGE_BY_EXTENSION = new Map(LANGUAGE_INFO.map((l) => [l.ext, l.id]))
/** Above this, a create starts on a turn of the event loop of its own, and so does storing its page. */
const YIELD_ABOVE_CHARS = 64 * 1024
/**
 * The bytes of a raw upload a create decodes: at least the 16 K characters language detection
 * samples (4 bytes at most per character), far more than the page's description reads.
 */
const TEXT_HEAD_BYTES = 64 * 1024

function parseBurn(value: string | boolean | undefined): boolean {
  if (value === undefined || typeof value === 'boolean') return value ?? false
  const v = value.toLowerCase()
  if (v === '1' || v === 'on' || v === 'true') return true
  if (v === '' || v === '0' || v === 'off' || v === 'false') return false
  throw new PasteInputError(400, 'burn', `burn must be 1, on or true (or 0, off, false), got "${value.slice(0, 20)}"`)
}

/** The paste domain: create, view, reveal, read, delete and list pastes. */
export class PasteService {
  /** Renders in flight, so that a view racing its paste's render waits for it instead of redoing it. */
  private readonly rendering = new Map<string, Promise<StoredPage>>()
  /**
   * Reads of a page view and of raw, through the store's page cache when it has one. Neither
   * keeps a burn paste (it must be read from Redis, to be consumed), nor a page these templates
   * have not rendered yet (its render's write will drop it anyway).
   */
  private readonly pageViews = Paste.cachedRead({
    select: VIEW_COLUMNS,
    increment: { views: 1 },
    keep: (view) => !view.burn && this.storedPage(view) !== null,
  })
  private readonly rawReads = Paste.cachedRead({ select: RAW_COLUMNS, keep: (paste) => !paste.burn })

  constructor(
    private readonly store: Store,
    private readonly pages: PageRenderer,
    private readonly code: CodeRenderer,
    private readonly limits: PasteLimits,
  ) {}

  /**
   * Stores a new paste and starts rendering its page off the request path. `waitForPageMs`
   * lets a browser, which is redirected to the page at once, find it rendered.
   */
  async createPaste(input: NewPaste, waitForPageMs = 0): Promise<{ paste: PasteData; deleteToken: string }> {
    const { text, content, size, lines } = await this.readContent(input.content, { wholeText: false })
    const title = this.checkTitle(input.title ?? input.fileName ?? '')
    const language = this.checkLanguage(input.language ?? 'auto', text, input.fileName ?? title)
    const expiresIn = this.checkExpires(input.expires)
    const visibility = (input.visibility ?? 'unlisted') as Visibility
    if (!VISIBILITIES.includes(visibility)) {
      throw new PasteInputError(400, 'visibility', `visibility must be public or unlisted, got "${String(input.visibility).slice(0, 20)}"`)
    }
    const burn = parseBurn(input.burn)
    const fork = this.checkFork(input.forkOf, input.forkOfRevision)
    const { token, hash } = newDeleteToken()
    const createdAt = new Date()
    const expiresAt = expiresIn === null ? null : new Date(createdAt.getTime() + expiresIn * 1000)
    const record = {
      // A burn paste is never listed: anyone browsing the list could burn it.
      title, language, visibility: burn ? 'unlisted' as const : visibility, content, size, createdAt, expiresAt, burn,
      lines, deleteTokenHash: hash, ...fork,
    }
    // A small paste's code block is made now, on this thread (CodeRenderer says why), and its
    // page is stored with it: one write, and its first view finds the page.
    const block = this.code.rendersAtOnce(size) ? await this.code.render(content, language, size).catch(() => null) : null
    const paste = await this.insert((id) => {
      if (!block) return { ...record, id }
      const stored = this.pages.pastePage({ ...record, id, kind: null, revision: 1, editedAt: null }, block, describeContent(text))
      return { ...record, id, ...stored, renderVersion: this.pages.version }
    }, expiresAt)
    if (!block) {
      // A render that fails (full queue, shutdown) is not the create's failure: the first view
      // renders the page again. Handled here, so it can never become an unhandled rejection.
      const page = this.renderPage(paste, text).catch(() => {})
      if (waitForPageMs > 0) await Promise.race([page, new Promise((r) => setTimeout(r, waitForPageMs))])
    }
    return { paste: dataOf(paste), deleteToken: token }
  }

  /**
   * Stores an encrypted paste. The envelope is checked (shape, sizes, version; MAX_PASTE_BYTES
   * applies to its ciphertext) and stored with its page, the static shell that decrypts it in
   * the browser: no highlighting, no worker, one write.
   */
  async createEncryptedPaste(input: NewEncryptedPaste): Promise<{ paste: PasteData; deleteToken: string }> {
    const { content, size } = this.checkEnvelope(input.envelope)
    const expiresIn = this.checkExpires(input.expires)
    if (input.visibility !== undefined && !VISIBILITIES.includes(input.visibility as Visibility)) {
      throw new PasteInputError(400, 'visibility', `visibility must be public or unlisted, got "${String(input.visibility).slice(0, 20)}"`)
    }
    const burn = parseBurn(input.burn)
    const { token, hash } = newDeleteToken()
    const createdAt = new Date()
    const expiresAt = expiresIn === null ? null : new Date(createdAt.getTime() + expiresIn * 1000)
    const record = {
      kind: 'encrypted' as const, title: '', language: '', visibility: 'unlisted' as const, content, size, lines: 0, createdAt, expiresAt, burn, deleteTokenHash: hash,
    }
    const paste = await this.insert((id) => ({ ...record, id, ...this.encryptedPage({ ...record, id }), renderVersion: this.pages.version }), expiresAt)
    return { paste: dataOf(paste), deleteToken: token }
  }

  /** Creates a record under a fresh id. 60 random bits make a collision vanishingly rare, and create never overwrites. */
  private async insert(build: (id: string) => Parameters<typeof Paste.create>[1], expiresAt: Date | null): Promise<PasteRecord> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await Paste.create(this.store, build(newPasteId()), { expiresAt })
      } catch (err) {
        if (!(err instanceof DuplicateKeyError) || attempt === 3) throw err
      }
    }
  }

  private encryptedPage(paste: PageFacts & Pick<PasteRecord, 'content'> & Partial<Pick<PasteRecord, 'revision'>>): StoredPage {
    const latest = paste.revision ?? 1
    return this.pages.encryptedPage(paste, paste.content, this.code.browserOptions, { revision: latest, revisions: latest })
  }

  /**
   * An envelope checked as the server can (shape, sizes, version; MAX_PASTE_BYTES applies to its
   * ciphertext), serialized as stored, and its ciphertext's size: the only size the server knows.
   */
  private checkEnvelope(value: unknown): { content: Buffer; size: number } {
    const wrong = envelopeProblem(value, { maxCiphertextBytes: this.limits.maxPasteBytes })
    if (wrong) throw new PasteInputError(wrong.tooLarge ? 413 : 400, wrong.field, wrong.message)
    const envelope = value as Envelope
    return { content: Buffer.from(serializeEnvelope(envelope)), size: base64Bytes(envelope.ciphertext) }
  }

  /**
   * Makes a new revision of a paste: its content, and its title and language when given. Only
   * the holder of the delete token may (one secret serves delete and edit). With `ifMatch`, the
   * edit applies only to that revision (409 naming the latest otherwise); without, it applies
   * to whatever is latest. The new revision, the paste's fields and its page (rendered before,
   * on the worker) are written in one atomic update; the revision it replaces is kept.
   * An encrypted paste takes an envelope instead (and a plain one never does): its revision's
   * page is the shell of the new envelope, and the server learns no title, language, lines or
   * changed lines, only the ciphertext's size.
   */
  async editPaste(id: string, token: string, input: PasteEdit, ifMatch?: number): Promise<PasteData | 'missing' | 'forbidden'> {
    const encrypted = 'envelope' in input
    const { text, content, size, lines } = encrypted
      ? { text: '', lines: 0, ...this.checkEnvelope(input.envelope) }
      : await this.readContent(input.content)
    // The token and the burn flag first, without the content: a burn paste is never read here.
    // Neither ever changes (nor does the kind), so checking them once is race-free.
    const owner = await Paste.load(this.store, id, { select: ['burn', 'kind', 'deleteTokenHash'] })
    if (!owner) return 'missing'
    if (!tokenMatches(token, owner.deleteTokenHash)) return 'forbidden'
    if (owner.burn) throw new PasteInputError(409, null, 'A burn-after-reading paste cannot be edited.')
    if (owner.kind === 'encrypted' && !encrypted) {
      throw new PasteInputError(400, 'envelope', 'This paste is encrypted: send the new revision as JSON {"envelope": …}, encrypted under the paste\'s link key. The server never takes its text (redbin\'s edit page does this in your browser).')
    }
    if (owner.kind !== 'encrypted' && encrypted) {
      throw new PasteInputError(400, 'envelope', 'envelope is only for encrypted pastes: this paste is not encrypted, and an edit cannot encrypt it. Send {"content": …}, or fork it into an encrypted paste.')
    }
    for (let attempt = 1; ; attempt++) {
      const paste = await Paste.load(this.store, id, { select: EDIT_COLUMNS })
      if (!paste) return 'missing'
      if (ifMatch !== undefined && ifMatch !== paste.revision) throw staleRevision(ifMatch, paste.revision)
      if (paste.revision >= this.limits.maxRevisions) throw this.tooManyRevisions()
      const title = encrypted || input.title === undefined ? paste.title : this.checkTitle(input.title)
      const language = encrypted || input.language === undefined ? paste.language : this.checkLanguage(input.language, text, title)
      const next = { ...paste, title, language, content, size, lines, editedAt: new Date(), revision: paste.revision + 1 }
      // An encrypted revision's shell costs no highlighting, and its changed lines are the browser's to know.
      const [stats, page] = encrypted
        ? [null, { ...this.encryptedPage(next), renderVersion: this.pages.version }]
        : await Promise.all([this.diffStats(paste.content.toString(), text), this.renderForEdit(next, text)])
      try {
        const updated = await Paste.update(
          this.store,
          { ...paste, page: null, slotAt: null, renderVersion: null },
          { title, language, content, size: next.size, lines, editedAt: next.editedAt, added: stats?.added ?? null, removed: stats?.removed ?? null, ...page },
          { maxVersion: this.limits.maxRevisions },
        )
        return updated ? dataOf(updated) : 'missing'
      } catch (err) {
        if (err instanceof VersionLimitError) throw this.tooManyRevisions()
        if (!(err instanceof VersionConflictError)) throw err
        // Someone else saved first. Asked for a revision: say so. Otherwise apply to the latest.
        if (ifMatch !== undefined || attempt === 3) throw staleRevision(paste.revision, err.current)
      }
    }
  }

  /**
   * What the edit form shows: the latest revision (an encrypted paste's envelope, which the
   * browser decrypts), and whether `token` may edit it. Null for none or a burn paste.
   */
  async editSource(id: string, token: string | undefined): Promise<EditSource | null> {
    const paste = await Paste.load(this.store, id, { select: ['burn', 'kind', 'deleteTokenHash'] })
    if (!paste || paste.burn) return null
    const latest = await Paste.load(this.store, id, { select: ['content', 'title', 'language', 'revision'] })
    if (!latest) return null
    const owner = token !== undefined && tokenMatches(token, paste.deleteTokenHash)
    if (paste.kind === 'encrypted') return { kind: 'encrypted', envelope: latest.content.toString(), revision: latest.revision, owner }
    return { kind: 'plain', ...latest, content: latest.content.toString(), owner }
  }

  /**
   * The paste page in one round trip (its stored page, bumping the view count), or the
   * interstitial of a burn paste, which GET and HEAD never burn. Null when there is no paste.
   * HEAD passes countView false: a link checker is not a reader.
   */
  async viewPage(id: string, ownerToken: string | undefined, countView = true): Promise<PageView | null> {
    return this.pageOf(id, await this.pageViews.load(this.store, id, countView), ownerToken)
  }

  /**
   * A page view by someone who does not own the paste, counted as `viewPage` counts one: its
   * parts at once when the page cache holds the page (burn pastes and pages not rendered yet
   * never are), else what `viewPage` resolves to.
   */
  pageView(id: string): Buffer[] | Promise<PageView | null> {
    const view = this.pageViews.read(this.store, id, true)
    if (view instanceof Promise) return view.then((read) => this.pageOf(id, read, undefined))
    const stored = view.burn ? null : this.storedPage(view)
    return stored ? this.pages.composePaste(stored, id, view.views, false) : Promise.resolve(this.pageOf(id, view, undefined))
  }

  /** What a view of the page finds, once its record is read: at once, unless its page must be rendered first. */
  private pageOf(id: string, view: ViewRecord | null, ownerToken: string | undefined): PageView | null | Promise<PageView | null> {
    if (!view) return null
    if (view.burn) return { kind: 'burn' }
    const stored = this.storedPage(view)
    return stored ? this.composed(id, view, stored, ownerToken) : this.renderedView(id, view, ownerToken)
  }

  /** A view of a paste whose page is not stored (yet, or for these templates): rendered now. */
  private async renderedView(id: string, view: ViewRecord, ownerToken: string | undefined): Promise<PageView | null> {
    const paste = await Paste.load(this.store, id)
    return paste && this.composed(id, view, await this.pageNow(paste), ownerToken)
  }

  private composed(id: string, view: ViewRecord, stored: StoredPage, ownerToken: string | undefined): PageView {
    const owner = ownerToken !== undefined && tokenMatches(ownerToken, view.deleteTokenHash)
    return { kind: 'page', html: this.pages.composePaste(stored, id, view.views, owner) }
  }

  /**
   * Shows a burn paste once: of concurrent reveals, exactly one gets the page. Any other paste
   * is left alone ('not-burn'): a reveal needs no token, so it must never delete one.
   * (The burn flag never changes, so checking it before the atomic take is race-free.)
   */
  async revealBurned(id: string): Promise<Buffer | 'not-burn' | null> {
    const flag = await Paste.load(this.store, id, { select: ['burn'] })
    if (!flag) return null
    if (!flag.burn) return 'not-burn'
    const paste = await Paste.take(this.store, id)
    if (!paste) return null
    return Buffer.concat(this.pages.composePaste(this.storedPage(paste) ?? await this.pageNow(paste), id, null, false))
  }

  /**
   * A paste's data for the API. These are explicit programmatic reads, so on a burn paste they
   * consume it, unless `consume` is false (HEAD).
   */
  readPaste(id: string, consume = true): Promise<PasteData | null> {
    return this.consumeBurn(id, Paste.load(this.store, id, { select: DATA_COLUMNS }), consume)
  }

  /** What raw and download serve: the bytes and the fields their headers need; consumed as readPaste. */
  readRaw(id: string, consume = true): Promise<RawPaste | null> {
    return this.consumeBurn(id, this.rawReads.load(this.store, id), consume)
  }

  /**
   * `readRaw(id)`, but the paste at once when the page cache holds it (a burn paste never is):
   * a caller that can answer in the same turn (fastViews) then awaits nothing.
   */
  rawView(id: string): RawPaste | Promise<RawPaste | null> {
    const read = this.rawReads.read(this.store, id)
    return read instanceof Promise ? this.consumeBurn(id, read, true) : read
  }

  /** A read paste, unless it is a burn paste to consume: then the one who takes it gets it. */
  private async consumeBurn<P extends { burn: boolean }>(id: string, reading: Promise<P | null>, consume: boolean): Promise<P | PasteData | null> {
    const paste = await reading
    if (!paste?.burn || !consume) return paste
    const taken = await Paste.take(this.store, id)
    return taken && dataOf(taken)
  }

  async deletePaste(id: string, token: string): Promise<'deleted' | 'forbidden' | 'missing'> {
    const paste = await Paste.load(this.store, id, { select: ['deleteTokenHash'] })
    if (!paste) return 'missing'
    if (!tokenMatches(token, paste.deleteTokenHash)) return 'forbidden'
    return (await Paste.delete(this.store, id)) ? 'deleted' : 'missing'
  }

  /** Public pastes, newest first: one query that never loads a paste's content. */
  async listPublic(options: { language?: string | undefined; offset: number; limit: number }): Promise<{ items: ListedPaste[]; total: number }> {
    const page = await Paste.query(this.store)
      .filter(options.language ? { visibility: 'public', language: options.language.toLowerCase() } : { visibility: 'public' })
      .orderBy('-createdAt')
      .offset(options.offset)
      .limit(options.limit)
      .select(...LIST_COLUMNS)
      .page()
    return page
  }

  /**
   * What a fork pre-fills: revision `n` (default the latest). A burn paste cannot be forked:
   * that would read it without burning it, so its content is never loaded. An encrypted paste is
   * forked in the browser that decrypted it (public/encrypted-page.js).
   */
  async forkSource(id: string, n?: number): Promise<{ content: string; title: string; language: string; revision: number } | null> {
    const flag = await Paste.load(this.store, id, { select: ['burn', 'revision', 'kind'] })
    if (!flag || flag.burn || flag.kind === 'encrypted') return null
    const wanted = n ?? flag.revision
    if (wanted < 1 || wanted > flag.revision) return null
    const source = wanted === flag.revision
      ? await Paste.load(this.store, id, { select: ['content', 'title', 'language'] })
      : await PasteRevision.load(this.store, id, wanted, ['content', 'title', 'language'])
    return source && { content: source.content.toString(), title: source.title, language: source.language, revision: wanted }
  }

  /** Unindexes expired pastes; the server runs this on a timer. */
  sweepExpired(): Promise<number> {
    return Paste.sweepExpired(this.store)
  }

  /**
   * Renders the page on the worker and stores it; concurrent callers share one render.
   * `text` is the content as text, when the caller already has it.
   */
  private renderPage(paste: PasteRecord, text?: string): Promise<StoredPage> {
    // Per revision: a render of a revision that an edit has replaced must not land (ifVersion).
    const key = `${paste.id}:${paste.revision}`
    let pending = this.rendering.get(key)
    if (!pending) {
      // While it waits for the worker, a render holds the paste's bytes once (in its task), not
      // also its text and its record: under a flood of creates, thousands of renders wait.
      const { id, revision } = paste
      const { content, page: _page, ...fields } = paste
      const rendered = paste.kind === 'encrypted'
        ? Promise.resolve(this.encryptedPage(paste))
        : this.renderCodePage(fields, content, describeContent(text ?? headOf(content)))
      pending = rendered
        .then(async (stored) => {
          // Joining a big page and encoding it for Redis are ~1 ms each per 3 MB: two turns.
          if (stored.page.length > YIELD_ABOVE_CHARS) await yieldToOthers()
          await Paste.patch(this.store, id, { ...stored, renderVersion: this.pages.version }, { ifVersion: revision })
          return stored
        })
        .finally(() => this.rendering.delete(key))
      this.rendering.set(key, pending)
    }
    return pending
  }

  /** A plain paste's page around its code block, rendered on the worker from its stored bytes. */
  private async renderCodePage(fields: PageFields, content: Buffer, description: string): Promise<StoredPage> {
    return this.pages.pastePage(fields, await this.code.render(content, fields.language, fields.size), description)
  }

  /**
   * An edited revision's page, rendered on the worker before the edit is written, so that the
   * edit stores it with the revision. If the worker is late, the edit stores no page and the
   * first view renders it (as after a create whose render failed).
   */
  private async renderForEdit(paste: Omit<PasteRecord, 'page' | 'slotAt' | 'renderVersion'>, text: string) {
    const rendered = this.code.render(paste.content, paste.language, paste.size).catch(() => null)
    const codeHtml = await Promise.race([rendered, new Promise<null>((r) => setTimeout(r, EDIT_WAIT_FOR_PAGE_MS, null))])
    if (!codeHtml) return { page: null, slotAt: null, renderVersion: null }
    return { ...this.pages.pastePage(paste, codeHtml, describeContent(text)), renderVersion: this.pages.version }
  }

  /** Lines added and removed from `before` to `after`, on the worker; null when over the diff bounds. */
  private async diffStats(before: string, after: string): Promise<{ added: number; removed: number } | null> {
    if (before.length + after.length > this.limits.diffMaxBytes) return null
    return this.code.diffStats({ oldText: before, newText: after, oldName: '', newName: '', oldLanguage: 'plaintext', newLanguage: 'plaintext', timeoutMs: this.limits.diffTimeoutMs })
      .catch(() => null)
  }

  private tooManyRevisions(): PasteInputError {
    return new PasteInputError(409, null, `This paste has reached the limit of ${this.limits.maxRevisions} revisions; fork it to keep editing.`)
  }

  private checkFork(forkOf: string | undefined, revision: string | number | undefined): { forkOf: string | null; forkOfRevision: number | null } {
    if (forkOf === undefined || forkOf === '') return { forkOf: null, forkOfRevision: null }
    if (!isPasteId(forkOf)) throw new PasteInputError(400, 'fork', 'fork must be the id of a paste')
    const n = revision === undefined || revision === '' ? 1 : Number(revision)
    if (!Number.isSafeInteger(n) || n < 1) throw new PasteInputError(400, 'fork_revision', 'fork_revision must be a revision number (1 or more)')
    return { forkOf, forkOfRevision: n }
  }

  /** The page as loaded, when it is there and rendered by these templates. */
  private storedPage(record: Pick<PasteRecord, 'page' | 'slotAt' | 'renderVersion'>): StoredPage | null {
    return record.page !== null && record.slotAt !== null && record.renderVersion === this.pages.version
      ? { page: record.page, slotAt: record.slotAt }
      : null
  }

  /**
   * A page needed now: the worker's if it delivers within a second, else plain text rendered
   * here. Always a copy of its own: concurrent views share one render, and each writes its
   * own view count into the page it is given.
   */
  private async pageNow(paste: PasteRecord): Promise<StoredPage> {
    if (paste.kind === 'encrypted') {
      // Its shell costs no highlighting: render a copy now, and store one for the next views.
      this.renderPage(paste).catch(() => {})
      return this.encryptedPage(paste)
    }
    const text = paste.content.toString()
    const rendered = this.renderPage(paste, text).catch(() => null)
    const shared = await Promise.race([rendered, new Promise<null>((r) => setTimeout(r, 1000, null))])
    if (shared) return { page: Buffer.from(shared.page), slotAt: shared.slotAt }
    return this.pages.pastePage(paste, this.code.renderPlainNow(paste.content), describeContent(text))
  }

  /**
   * A paste's content checked, as the bytes to store, with its size and line count, and as text:
   * all of it, or with `wholeText: false` a raw upload's first TEXT_HEAD_BYTES only (all a create
   * reads of the text: language detection, the page's description). The worker decodes the bytes
   * it renders; decoding a 1 MiB upload here too made a text of 1-2 MB, in pieces, then flattened
   * (a second copy) by the first search over it. The turn of the event loop a big paste arrived
   * in has parsed its body: enough for one turn. Its passes over the text then run in slices
   * (textPasses.ts), page views in between.
   */
  private async readContent(raw: string | Buffer | undefined, { wholeText = true } = {}): Promise<{ text: string; content: Buffer; size: number; lines: number }> {
    if (raw === undefined) throw new PasteInputError(400, 'content', 'content is required')
    if (raw.length > YIELD_ABOVE_CHARS) await yieldToOthers()
    const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
    if (size > this.limits.maxPasteBytes) {
      throw new PasteInputError(413, 'content', `content is ${size} bytes; the limit is ${this.limits.maxPasteBytes} bytes`)
    }
    if (typeof raw === 'string') {
      // Form and JSON text is encoded once.
      checkText(raw)
      return { text: raw, content: await encodeUtf8(raw, size), size, lines: await countLines(raw) }
    }
    // A raw upload is stored as the very bytes it came in. Valid UTF-8 decodes to well-formed
    // text (it cannot encode a lone surrogate), so its head is as well-formed as the whole.
    const whole = wholeText || raw.length <= TEXT_HEAD_BYTES
    const text = whole ? await decodeUtf8(raw) : isUtf8(raw) ? textHead(raw, TEXT_HEAD_BYTES) : null
    if (text === null) throw notUtf8()
    // A head of blanks says nothing of the rest: only then is the whole text decoded.
    checkText(whole || /\S/.test(text) ? text : (await decodeUtf8(raw)) ?? '')
    return { text, content: raw, size, lines: await countLines(raw) }
  }

  private checkTitle(raw: string): string {
    // eslint-disable-next-line no-control-regex
    const title = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
    if (title.length > MAX_TITLE_CHARS) {
      throw new PasteInputError(400, 'title', `title must be at most ${MAX_TITLE_CHARS} characters, got ${title.length}`)
    }
    if (!title.isWellFormed()) throw new PasteInputError(400, 'title', 'title must be valid UTF-8 text')
    return title
  }

  private checkLanguage(raw: string, content: string, fileName: string): string {
    const wanted = raw.trim().toLowerCase()
    if (wanted === 'auto' || wanted === '') return detectLanguage(content, fileName)
    const language = LANGUAGE_IDS.has(wanted) ? wanted : LANGUAGE_BY_EXTENSION.get(wanted)
    if (!language) {
      throw new PasteInputError(400, 'language', `language must be auto or one of ${[...LANGUAGE_IDS].join(', ')}; got "${raw.slice(0, 30)}"`)
    }
    return language
  }

  private checkExpires(raw: string | number | undefined): number | null {
    let seconds: number | null
    if (raw === undefined || raw === '') {
      seconds = this.limits.defaultExpiresSeconds
    } else {
      try {
        seconds = parseExpires(String(raw))
      } catch (err) {
        throw new PasteInputError(400, 'expires', `expires ${(err as Error).message}; got "${String(raw).slice(0, 20)}"`)
      }
    }
    // Beyond what a Date can hold (~275,000 years), the model would refuse "paste.expiresAt".
    if (seconds !== null && Number.isNaN(new Date(Date.now() + seconds * 1000).getTime())) {
      throw new PasteInputError(400, 'expires', 'expires is too far in the future; use never')
    }
    const max = this.limits.maxExpiresSeconds
    if (max !== null && (seconds === null || seconds > max)) {
      throw new PasteInputError(400, 'expires', `expires must be at most ${max} seconds on this server`)
    }
    return seconds
  }
}

function notUtf8(): PasteInputError {
  return new PasteInputError(400, 'content', 'content must be valid UTF-8 text')
}

/** Refuses text that is not well-formed (a lone surrogate) or that is only blanks. */
function checkText(text: string): void {
  if (!text.isWellFormed()) throw notUtf8()
  // A search, not trim(): trim would copy a megabyte to learn that one character is there.
  if (!/\S/.test(text)) throw new PasteInputError(400, 'content', 'content is empty')
}

function staleRevision(asked: number, latest: number): PasteInputError {
  return new PasteInputError(409, 'revision', `Revision ${asked} is not the latest: the latest is revision ${latest}. Nothing was changed; load revision ${latest} and edit that.`)
}

/**
 * The text of a paste's first bytes: enough for describeContent, which reads 400 characters
 * (at most 1,600 bytes; a character cut at the end is beyond them), without decoding megabytes.
 */
function headOf(content: Buffer): string {
  return content.toString('utf8', 0, Math.min(content.length, 1600))
}

function dataOf(paste: PasteRecord): PasteData {
  const { deleteTokenHash: _t, page: _p, slotAt: _s, renderVersion: _v, ...data } = paste
  return data
}

