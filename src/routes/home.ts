import type {} from '@fastify/view'
import type { FastifyReply } from 'fastify'
import { EXPIRES_PRESETS } from '../config.js'
import { LANGUAGE_INFO } from '../shared/languages.js'
import { toListItem } from '../pastes/PageRenderer.js'
import type { RouteDeps } from './shared.js'

const RECENT_ON_HOME = 10
const EXPIRES_LABELS: Record<string, string> = {
  '10m': '10 minutes', '1h': '1 hour', '1d': '1 day', '1w': '1 week', '30d': '30 days', '1y': '1 year', never: 'Never',
}

export const LANGUAGE_CHOICES = LANGUAGE_INFO.map((l) => ({ id: l.id, name: l.name }))

export interface FormValues {
  content: string
  title: string
  language: string
  expires: string
  visibility: string
  burn: boolean
}

export interface HomeOptions {
  values?: Partial<FormValues>
  error?: string | null
  /** The paste and revision a fork starts from. */
  forkOf?: { id: string; revision: number } | null
  deleted?: boolean
  status?: number
}

/**
 * Renders the new-paste form with the newest public pastes: the home page, and the same form
 * shown again with its error and the text the user sent, when a browser's create is refused.
 */
export function homeRenderer(deps: RouteDeps) {
  const { config, pages, pastes } = deps
  const expiresOptions = Object.keys(EXPIRES_PRESETS)
    .filter((value) => {
      const seconds = EXPIRES_PRESETS[value] ?? null
      return config.maxExpiresSeconds === null || (seconds !== null && seconds <= config.maxExpiresSeconds)
    })
    .map((value) => ({ value, label: EXPIRES_LABELS[value] ?? value }))
  const defaultExpires = Object.keys(EXPIRES_PRESETS).find((k) => EXPIRES_PRESETS[k] === config.defaultExpiresSeconds) ?? expiresOptions[0]?.value ?? 'never'
  const defaults: FormValues = { content: '', title: '', language: 'auto', expires: defaultExpires, visibility: 'unlisted', burn: false }

  return async (reply: FastifyReply, options: HomeOptions = {}) => {
    const recent = await pastes.listPublic({ offset: 0, limit: RECENT_ON_HOME })
    return reply.code(options.status ?? 200).header('cache-control', 'no-cache').viewAsync('home', {
      meta: pages.siteMeta('redbin · paste text and code', 'A fast, no-nonsense pastebin: share code and text with a link.', '/'),
      recent: recent.items.map(toListItem),
      languages: [{ id: 'auto', name: 'Auto-detect' }, ...LANGUAGE_CHOICES],
      expiresOptions,
      values: { ...defaults, ...Object.fromEntries(Object.entries(options.values ?? {}).filter(([, v]) => v !== undefined)) },
      error: options.error ?? null,
      maxPasteBytes: config.maxPasteBytes,
      forkOf: options.forkOf ?? null,
      deleted: options.deleted ?? false,
    })
  }
}
