// Turns paste text into the code block's HTML: highlighted (or escaped) and split into one
// element per line with an #L<n> anchor. The server runs it on its worker (src/pastes/code.js);
// the browser runs it on a decrypted paste, with the same highlight.js version, so both
// produce the same markup.

/**
 * @typedef {{ language: string, html: string }} RenderedCode
 * @typedef {{ highlight: boolean, detectChars: number, maxLines: number }} RenderOptions
 * @typedef {Pick<import('highlight.js').HLJSApi, 'highlight' | 'highlightAuto' | 'getLanguage'>} Highlighter
 */

/** Below this hljs relevance a guess is noise: plain text reads better than wrong colours. */
const MIN_RELEVANCE = 5

const ESCAPES = /** @type {Record<string, string>} */ ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })

/** @param {string} text */
export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch)
}

/**
 * Each line's HTML on its own. hljs spans may cross newlines (block comments, strings), so
 * spans still open at a line's end are closed there and reopened on the next line.
 * @param {string} html highlighted or escaped text
 * @returns {string[]}
 */
export function htmlLines(html) {
  const lines = html.split('\n')
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop()
  /** @type {string[]} */
  const open = []
  const out = new Array(lines.length)
  const tag = /<span[^>]*>|<\/span>/g
  for (let i = 0; i < lines.length; i++) {
    let line = /** @type {string} */ (lines[i])
    if (line.endsWith('\r')) line = line.slice(0, -1)
    const reopen = open.join('')
    for (const match of line.matchAll(tag)) {
      if (match[0] === '</span>') open.pop()
      else open.push(match[0])
    }
    out[i] = `${reopen}${line}${'</span>'.repeat(open.length)}`
  }
  return out
}

/**
 * Wraps each line in its own element with an #L<n> anchor: `<span id="L7"><a href="#L7" …></a>…</span>`.
 * Nothing else per line: the number is a CSS counter, and styles select lines as the code
 * element's children (public/style.css). A class, a data-n and a wrapper per line made a small
 * paste's page ~20% larger, and a 1 MiB plain one's 2 MB larger.
 * @param {string} html highlighted or escaped text
 * @param {number} maxLines beyond this many lines, no per-line markup (anchors stop there)
 */
export function splitLines(html, maxLines) {
  if (html.split('\n', maxLines + 2).length > maxLines + (html.endsWith('\n') ? 1 : 0)) {
    return `${PLAIN_WRAP[0]}${html}${PLAIN_WRAP[1]}`
  }
  return htmlLines(html).map((line, i) => lineHtml(i + 1, line)).join('')
}

/** What a code block of more than maxLines lines is wrapped in, instead of per-line markup. */
export const PLAIN_WRAP = /** @type {const} */ (['<span class="plain">', '</span>'])

/**
 * Line `n` of a code block: `<span id="L7"><a href="#L7" aria-hidden="true" tabindex="-1"></a>…</span>\n`.
 * @param {number | string} n
 * @param {string} line
 */
export function lineHtml(n, line) {
  return `<span id="L${n}"><a href="#L${n}" aria-hidden="true" tabindex="-1"></a>${line}</span>\n`
}

/**
 * The text as HTML: highlighted in `language` when it has a grammar and `highlight` is set,
 * else escaped.
 * @param {Highlighter} hljs
 * @param {string} text
 * @param {string} language a language id (not 'auto')
 * @param {boolean} highlight
 */
export function highlightWith(hljs, text, language, highlight) {
  return highlight && language !== 'plaintext' && hljs.getLanguage(language)
    ? hljs.highlight(text, { language, ignoreIllegals: true }).value
    : escapeHtml(text)
}

/**
 * @param {Highlighter} hljs a highlight.js instance with the grammars registered
 * @param {readonly string[]} detectable the languages 'auto' may pick
 * @param {string} text the paste
 * @param {string} requested a language id, or 'auto'
 * @param {RenderOptions} options highlight: false renders plain text (too large to highlight)
 * @returns {RenderedCode}
 */
export function renderCodeWith(hljs, detectable, text, requested, options) {
  let language = requested
  /** @type {string | null} */
  let highlighted = null
  if (!options.highlight) {
    if (language === 'auto') language = 'plaintext'
  } else if (language === 'auto') {
    const sample = text.length > options.detectChars ? text.slice(0, options.detectChars) : text
    const guess = hljs.highlightAuto(sample, [...detectable])
    language = guess.language && guess.relevance >= MIN_RELEVANCE ? guess.language : 'plaintext'
    if (language !== 'plaintext' && sample === text) highlighted = guess.value
  }
  if (highlighted === null) highlighted = highlightWith(hljs, text, language, options.highlight)
  return { language, html: splitLines(highlighted, options.maxLines) }
}
