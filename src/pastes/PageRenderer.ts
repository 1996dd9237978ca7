import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Eta } from 'eta'
import { BrowserModules } from './BrowserModules.js'
import { LANGUAGE_INFO } from '../shared/languages.js'
import type { PasteKind, PasteRecord } from './Paste.js'

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url))
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url))
/** The content type of every page rendered here. */
export const HTML = 'text/html; charset=utf-8'
/** Where the paste template marks the per-view part (view count, the creator's Delete button). */
const DYNAMIC_MARKER = '<!--dynamic-->'
/** Stands in for the code block while the page is rendered; the code's bytes replace it. */
const CODE_MARKER = '<!--code-block-->'
/** What a template prints where PageRenderer.splice puts its bytes. */
export const SPLICE_MARKER = CODE_MARKER

export interface PageMeta {
  title: string
  description: string
  robots: string | null
  canonical: string | null
  ogType: 'website' | 'article'
}

/**
 * Bytes left blank in a stored page for the per-view part (view count, the creator's Delete
 * button: ~220 bytes at most). Blank means an HTML comment of spaces, so that the element
 * around it stays :empty when a view has nothing to put there.
 */
const SLOT_BYTES = 256
/** "<!--" and "-->": the shortest comment that can follow the per-view part in the slot. */
const COMMENT_BYTES = 7
const BLANK_SLOT = `<!--${' '.repeat(SLOT_BYTES - COMMENT_BYTES)}-->`

/** What every paste page shows of its paste. */
export type PageFacts = Pick<PasteRecord, 'id' | 'kind' | 'title' | 'language' | 'size' | 'createdAt' | 'expiresAt' | 'burn' | 'visibility'>

/** What a plain paste's page shows of a paste (any revision of it). */
export type PageFields = PageFacts & Pick<PasteRecord, 'lines' | 'revision' | 'editedAt' | 'forkOf' | 'forkOfRevision'>

/** Which revision a page shows, of how many; a paste's own page shows its latest. */
export interface RevisionAt {
  revision: number
  revisions: number
}

/** A paste page rendered ahead of time, with a blank slot at `slotAt` for the per-view part. */
export interface StoredPage {
  page: Buffer
  slotAt: number
}

/**
 * Free bytes the render worker leaves before and after a code block, in the buffer it writes the
 * block into: room for the page's head (a paste page's is ~3 KB; the largest, a 200-character
 * title and a description of characters escaped to 6 bytes each, ~9 KB) and its tail (~0.2 KB),
 * so that the page is assembled in place around the block. Joining them instead copied the whole
 * page: 3-7 MB for a 1 MiB paste. A head or tail that does not fit is joined as before.
 */
export const PAGE_ROOM = { before: 16 * 1024, after: 4 * 1024 } as const

/**
 * A code block's UTF-8 bytes at [start, end) of `frame`, a buffer of the block's own whose bytes
 * outside [start, end) are free: a page may be written around the block in place.
 */
export interface FramedBytes {
  frame: Buffer
  start: number
  end: number
}

/** The bytes themselves: a view, no copy. */
export function bytesOf(insert: Buffer | FramedBytes): Buffer {
  return Buffer.isBuffer(insert) ? insert : insert.frame.subarray(insert.start, insert.end)
}

export interface ListItem {
  id: string
  url: string
  title: string
  language: string
  size: string
  lines: number
  createdAt: Date
}

const LANGUAGE_NAMES = new Map(LANGUAGE_INFO.map((l) => [l.id, l.name]))

export function languageName(id: string): string {
  return LANGUAGE_NAMES.get(id) ?? id
}

export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

function fingerprint(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part)
  return hash.digest('base64url').slice(0, 12)
}

/**
 * Holds the eta instance and renders paste pages: once, when the paste is created, and stored;
 * a view only joins the stored parts around its view count. Home, list and the burn warning
 * are rendered per request through @fastify/view with the same instance (plugins/views.ts).
 * `version` fingerprints the templates, the assets and the code renderer, so a deploy that
 * changes any of them makes old stored pages stale and they are rendered again on their next view.
 */
export class PageRenderer {
  /** Compiles each template once in production (`cache`), and escapes every `<%= %>`. */
  readonly eta: Eta
  /** The asset URLs every template links to, fingerprinted; the modules under one hash. */
  readonly assets: { css: string; js: string; encryptedPage: string; encryptForm: string; encryptedEdit: string }
  readonly modules = new BrowserModules()
  readonly version: string

  constructor(readonly publicUrl: string, production: boolean) {
    this.eta = new Eta({ views: VIEWS_DIR, cache: production, autoEscape: true, autoTrim: false })
    const css = readFileSync(`${PUBLIC_DIR}style.css`)
    const js = readFileSync(`${PUBLIC_DIR}app.js`)
    this.assets = {
      css: `/static/style.css?v=${fingerprint(css)}`,
      js: `/static/app.js?v=${fingerprint(js)}`,
      encryptedPage: `${this.modules.base}encrypted-page.js`,
      encryptForm: `${this.modules.base}encrypt-form.js`,
      encryptedEdit: `${this.modules.base}encrypted-edit.js`,
    }
    const templates = readdirSync(VIEWS_DIR, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort()
      .map((path) => readFileSync(path))
    const codeRenderer = readFileSync(new URL('./code.js', import.meta.url))
    this.version = fingerprint(String(SLOT_BYTES), css, js, this.modules.hash, codeRenderer, ...templates)
  }

  /**
   * A page from its template, synchronously: the stored paste page, and error pages, which
   * errors.ts must also be able to write straight to a socket (clientErrors.ts). Home, list and
   * the burn warning go through @fastify/view (src/plugins/views.ts).
   */
  render(template: string, data: Record<string, unknown>): string {
    return this.eta.render(template, { ...data, assets: this.assets })
  }

  /**
   * `html` (rendered with `spliced: SPLICE_MARKER`) with `bytes` where the template printed the
   * marker: a part that can be megabytes (a diff) never passes through a template or a string.
   */
  splice(html: string, bytes: Buffer): Buffer {
    const at = html.indexOf(SPLICE_MARKER)
    if (at < 0) throw new Error('the template must print it.spliced')
    return Buffer.concat([Buffer.from(html.slice(0, at)), bytes, Buffer.from(html.slice(at + SPLICE_MARKER.length))])
  }

  /**
   * Renders the paste page around its code block, minus the per-view part: the latest revision,
   * or `shown`. (The template's revision and fork parts open and close on their own tags, so
   * that a paste with neither renders to the same bytes, and a view of it costs the same, as
   * before revisions existed.)
   */
  pastePage(paste: PageFields, codeHtml: Buffer | FramedBytes, description: string, shown: RevisionAt = { revision: paste.revision, revisions: paste.revision }): StoredPage {
    const latest = shown.revision === shown.revisions
    const base = latest ? `/${paste.id}` : `/${paste.id}/r/${shown.revision}`
    const forkOf = paste.forkOf ? { id: paste.forkOf, revision: paste.forkOfRevision ?? 1 } : null
    return this.storedPage('paste', {
      meta: this.pasteMeta(paste, description, base),
      paste: {
        ...this.pasteFacts(paste),
        title: paste.title,
        language: paste.language,
        languageName: languageName(paste.language),
        lines: paste.lines,
        rawUrl: `${base}/raw`,
        downloadUrl: latest ? `/${paste.id}/download` : null,
        forkUrl: latest ? `/?fork=${paste.id}` : `/?fork=${paste.id}&revision=${shown.revision}`,
        revision: shown.revision,
        revisions: shown.revisions,
        latestUrl: latest ? null : `/${paste.id}`,
        historyUrl: `/${paste.id}/revisions`,
        changesUrl: shown.revision > 1 ? `/${paste.id}/diff?from=${shown.revision - 1}&to=${shown.revision}` : null,
        editedAt: paste.editedAt,
        forkOf: forkOf && { ...forkOf, url: `/${forkOf.id}/r/${forkOf.revision}`, diffUrl: `/diff/${forkOf.id}/${paste.id}?from=${forkOf.revision}` },
      },
    }, codeHtml)
  }

  /**
   * The page of an encrypted paste: a shell the same for every paste but its facts, with the
   * envelope in a data block for the browser to decrypt. `code` is what the browser needs to
   * render the code block as the server would.
   */
  encryptedPage(paste: PageFacts, envelope: Buffer, code: { highlightMaxBytes: number; detectChars: number; maxLines: number }, shown: RevisionAt): StoredPage {
    const latest = shown.revision === shown.revisions
    const facts = this.pasteFacts(paste)
    return this.storedPage('encrypted', {
      meta: this.pasteMeta(paste, '', latest ? `/${paste.id}` : `/${paste.id}/r/${shown.revision}`),
      paste: {
        ...facts,
        // The link a reader copies: this revision's, with the key the page adds after "#".
        url: latest ? facts.url : `${facts.url}/r/${shown.revision}`,
        revision: shown.revision,
        revisions: shown.revisions,
        historyUrl: `/${paste.id}/revisions`,
        latestUrl: latest ? null : `/${paste.id}`,
      },
      code,
    }, envelope)
  }

  private pasteFacts(paste: PageFacts) {
    return {
      id: paste.id,
      size: paste.size,
      sizeHuman: humanSize(paste.size),
      createdAt: paste.createdAt,
      expiresAt: paste.expiresAt,
      burn: paste.burn,
      visibility: paste.visibility,
      codeHtml: CODE_MARKER,
      url: `${this.publicUrl}/${paste.id}`,
      rawUrl: `/${paste.id}/raw`,
      downloadUrl: `/${paste.id}/download`,
      forkUrl: `/?fork=${paste.id}`,
    }
  }

  /**
   * Renders a page around its big part, minus the per-view part. The big part arrives as bytes
   * (it can be megabytes): the template renders around a marker and the bytes are spliced in,
   * never decoded, re-encoded or copied through a template. Framed bytes get the head and tail
   * written into their frame's free room, when they fit: no copy of the big part at all.
   */
  private storedPage(template: string, data: Record<string, unknown>, insert: Buffer | FramedBytes): StoredPage {
    const html = this.render(template, data)
    const at = html.indexOf(DYNAMIC_MARKER)
    const code = html.indexOf(CODE_MARKER)
    if (at < 0 || code < at) throw new Error(`views/${template}.eta must contain ${DYNAMIC_MARKER}, then ${CODE_MARKER}`)
    const top = html.slice(0, at)
    const head = top + BLANK_SLOT + html.slice(at + DYNAMIC_MARKER.length, code)
    const tail = html.slice(code + CODE_MARKER.length)
    const slotAt = Buffer.byteLength(top)
    if (!Buffer.isBuffer(insert)) {
      const { frame, start, end } = insert
      const headBytes = Buffer.byteLength(head)
      const tailBytes = Buffer.byteLength(tail)
      if (headBytes <= start && tailBytes <= frame.length - end) {
        frame.write(head, start - headBytes)
        frame.write(tail, end)
        return { page: frame.subarray(start - headBytes, end + tailBytes), slotAt }
      }
    }
    return { page: Buffer.concat([Buffer.from(head), bytesOf(insert), Buffer.from(tail)]), slotAt }
  }

  /**
   * This view's page: its count and, for the creator, the Delete button, in place of the stored
   * page's blank slot. The page goes out as three parts: the stored bytes before the slot, this
   * view's bytes, and the stored bytes after them (views, not copies). The stored page is never
   * written to, so one in the page cache serves any number of views at once; a copy of it per
   * view cost ~5% of a view's CPU, and the copies alive between two scavenges 11-22 MB.
   */
  composePaste(stored: StoredPage, id: string, views: number | null, owner: boolean): Buffer[] {
    const count = views === null ? '' : `<span class="paste-views"><span class="num">${views}</span> ${views === 1 ? 'view' : 'views'}</span>`
    const remove = owner
      // Unquoted attributes: the owner's buttons must fit the slot with a count in the millions.
      ? `<a class=btn href=/${id}/edit>Edit</a><form class="delete-form" method="post" action="/${id}/delete"><button type="submit" class="btn btn-danger">Delete</button></form>`
      : ''
    const dynamic = count + remove
    const { page, slotAt } = stored
    const bytes = Buffer.byteLength(dynamic)
    if (bytes > SLOT_BYTES - COMMENT_BYTES) return [page.subarray(0, slotAt), Buffer.from(dynamic), page.subarray(slotAt + SLOT_BYTES)]
    // The slot is "<!--", spaces, "-->": the dynamic part, then "<!--" over the spaces after it,
    // leaves a well-formed comment of the rest.
    return [page.subarray(0, slotAt), Buffer.from(`${dynamic}<!--`), page.subarray(slotAt + bytes + 4)]
  }

  pasteMeta(paste: Pick<PasteRecord, 'id' | 'title' | 'burn' | 'visibility' | 'language'> & { kind?: PasteKind | null }, description: string, path = `/${paste.id}`): PageMeta {
    if (paste.kind === 'encrypted') {
      // The server knows nothing of an encrypted paste's title or text, and link previews say so.
      return {
        title: `${paste.burn ? 'Burn after reading' : 'Encrypted paste'} · redbin`,
        description: 'An encrypted paste: only the full link (with its key) can open it.',
        robots: 'noindex, nofollow',
        canonical: `${this.publicUrl}${path}`,
        ogType: 'article',
      }
    }
    if (paste.burn) return this.burnMeta(paste.id, path)
    return {
      title: `${paste.title || `Untitled ${languageName(paste.language)} paste`} · redbin`,
      description,
      robots: paste.visibility === 'unlisted' ? 'noindex, nofollow' : null,
      canonical: `${this.publicUrl}${path}`,
      ogType: 'article',
    }
  }

  /**
   * A burn paste's: nothing of the paste, neither its title nor its content. Link previews must not
   * leak what is meant to be read once.
   */
  burnMeta(id: string, path = `/${id}`): PageMeta {
    return {
      title: 'Burn after reading · redbin',
      description: 'A paste that is deleted once it is read.',
      robots: 'noindex, nofollow',
      canonical: `${this.publicUrl}${path}`,
      ogType: 'article',
    }
  }

  siteMeta(title: string, description: string, path: string, robots: string | null = null): PageMeta {
    return { title, description, robots, canonical: `${this.publicUrl}${path}`, ogType: 'website' }
  }
}

/** The first lines of a paste, for link previews. */
export function describeContent(content: string): string {
  const head = content.slice(0, 400).split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 3).join(' ')
  return head.length > 160 ? `${head.slice(0, 157)}…` : head || 'An empty-looking paste.'
}

export function toListItem(paste: Pick<PasteRecord, 'id' | 'title' | 'language' | 'size' | 'lines' | 'createdAt'>): ListItem {
  return {
    id: paste.id,
    url: `/${paste.id}`,
    title: paste.title,
    language: languageName(paste.language),
    size: humanSize(paste.size),
    lines: paste.lines,
    createdAt: paste.createdAt,
  }
}
