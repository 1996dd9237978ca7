import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LANGUAGE_INFO } from '../shared/languages.js'

const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url))
const SHARED_DIR = fileURLToPath(new URL('../shared/', import.meta.url))
/** highlight.js's own browser build (ES modules), the same release as the server's highlight.js. */
const HLJS_DIR = join(dirname(createRequire(import.meta.url).resolve('@highlightjs/cdn-assets/package.json')), 'es')

/**
 * The ES modules the browser runs on encrypted pastes and the new-paste form, served under one
 * path that fingerprints them all (/static/m/<hash>/…). Modules import each other by relative
 * paths, so a single hash versions the whole graph without a bundler, and browsers may cache
 * every file for good. Only the files listed here are served.
 */
export class BrowserModules {
  readonly files = new Map<string, Buffer>()
  readonly hash: string
  /** Where the modules are served from, e.g. /static/m/Ab3…/ */
  readonly base: string

  constructor() {
    const add = (path: string, file: string) => this.files.set(path, readFileSync(file))
    add('encrypted-page.js', `${PUBLIC_DIR}encrypted-page.js`)
    add('encrypt-form.js', `${PUBLIC_DIR}encrypt-form.js`)
    add('encrypted-edit.js', `${PUBLIC_DIR}encrypted-edit.js`)
    add('encrypted-ui.js', `${PUBLIC_DIR}encrypted-ui.js`)
    for (const name of ['pasteCrypto.js', 'codeBlock.js', 'languages.js']) add(`shared/${name}`, `${SHARED_DIR}${name}`)
    add('hljs/core.min.js', join(HLJS_DIR, 'core.min.js'))
    for (const { grammar } of LANGUAGE_INFO) {
      if (grammar) add(`hljs/languages/${grammar}.min.js`, join(HLJS_DIR, 'languages', `${grammar}.min.js`))
    }
    const digest = createHash('sha256')
    for (const [path, bytes] of [...this.files].sort(([a], [b]) => (a < b ? -1 : 1))) digest.update(path).update(bytes)
    this.hash = digest.digest('base64url').slice(0, 12)
    this.base = `/static/m/${this.hash}/`
  }
}
