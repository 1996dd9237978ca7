import { column, defineHistory, defineModel, type InferRecord } from '../model/index.js'

export const VISIBILITIES = ['public', 'unlisted'] as const
export type Visibility = (typeof VISIBILITIES)[number]
/** plain: the server has the text. encrypted: `content` holds an envelope the server cannot open (docs/encryption.md). */
export const PASTE_KINDS = ['plain', 'encrypted'] as const
export type PasteKind = (typeof PASTE_KINDS)[number]

/**
 * A paste. The page a view serves is rendered once, off the request path, and stored in
 * `page`, with a blank slot at `slotAt` for the per-view part; renderVersion says which templates
 * and assets rendered it, so a deploy that changes them re-renders old pastes on their next view.
 */
export const Paste = defineModel(
  'paste',
  {
    id: column.string({ primaryKey: true }),
    // Written for encrypted pastes only: a plain paste stores exactly the fields it did before
    // encryption existed (creates cost what they did), and an unset kind reads as plain.
    kind: column.enum(PASTE_KINDS),
    title: column.string({ default: '' }),
    language: column.string({ required: true, index: true }),
    visibility: column.enum(VISIBILITIES, { default: 'unlisted', index: true }),
    burn: column.boolean({ default: false }),
    // The paste's UTF-8 bytes (checked to be valid text on create), served as they are; an
    // encrypted paste's envelope as JSON. For those, title and language are empty, size is the
    // ciphertext's and lines 0: the server never knows them.
    content: column.bytes({ required: true }),
    size: column.int({ required: true }),
    lines: column.int({ required: true }),
    createdAt: column.date({ required: true, sortable: true }),
    expiresAt: column.date(),
    // Bumped by every view: a counter, so that a view never writes the paste's own key (a page
    // cached in process stays valid: CLIENT TRACKING reports no change).
    views: column.int({ default: 0, counter: true }),
    deleteTokenHash: column.string({ required: true }),
    // Bytes, not text: a view sends them as they are, with no decoding and re-encoding.
    page: column.bytes(),
    slotAt: column.int(),
    renderVersion: column.string(),
    // The latest revision's number (the model's version: every edit is a compare-and-set on it).
    revision: column.int({ default: 1 }),
    // When the latest revision was made (null: at createdAt), and the lines it added and
    // removed against the one before (null: revision 1, or too large to count).
    editedAt: column.date(),
    added: column.int(),
    removed: column.int(),
    // A fork's origin: the paste and the revision it was forked from.
    forkOf: column.string(),
    forkOfRevision: column.int(),
  },
  // The list page filters public pastes by language: one sorted set answers it, newest first.
  { defaultOrder: '-createdAt', indexes: [['visibility', 'language']], version: 'revision' },
)

/**
 * Past revisions of a paste: an edit keeps the revision it replaces here, in the same script,
 * so they expire and are deleted with their paste. The latest revision is the paste itself.
 */
export const PasteRevision = defineHistory('paste_revision', Paste, [
  'title', 'language', 'content', 'size', 'lines', 'createdAt', 'editedAt', 'added', 'removed', 'revision',
])

export type PasteRecord = InferRecord<typeof Paste>
