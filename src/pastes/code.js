// Turns paste text into the code block's HTML: highlighted (or escaped) and split into one
// element per line with an #L<n> anchor. Plain JavaScript on purpose: it also runs inside a
// worker thread, which under Node 20 cannot load TypeScript sources in development and tests.
import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import c from 'highlight.js/lib/languages/c'
import cpp from 'highlight.js/lib/languages/cpp'
import csharp from 'highlight.js/lib/languages/csharp'
import css from 'highlight.js/lib/languages/css'
import diff from 'highlight.js/lib/languages/diff'
import dockerfile from 'highlight.js/lib/languages/dockerfile'
import elixir from 'highlight.js/lib/languages/elixir'
import go from 'highlight.js/lib/languages/go'
import haskell from 'highlight.js/lib/languages/haskell'
import ini from 'highlight.js/lib/languages/ini'
import java from 'highlight.js/lib/languages/java'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import kotlin from 'highlight.js/lib/languages/kotlin'
import lua from 'highlight.js/lib/languages/lua'
import makefile from 'highlight.js/lib/languages/makefile'
import markdown from 'highlight.js/lib/languages/markdown'
import nginx from 'highlight.js/lib/languages/nginx'
import perl from 'highlight.js/lib/languages/perl'
import php from 'highlight.js/lib/languages/php'
import python from 'highlight.js/lib/languages/python'
import r from 'highlight.js/lib/languages/r'
import ruby from 'highlight.js/lib/languages/ruby'
import rust from 'highlight.js/lib/languages/rust'
import scss from 'highlight.js/lib/languages/scss'
import sql from 'highlight.js/lib/languages/sql'
import swift from 'highlight.js/lib/languages/swift'
import typescript from 'highlight.js/lib/languages/typescript'
import xml from 'highlight.js/lib/languages/xml'
import yaml from 'highlight.js/lib/languages/yaml'

/**
 * @typedef {{ id: string, name: string, ext: string, grammar?: import('highlight.js').LanguageFn }} Language
 * @typedef {{ language: string, html: string }} RenderedCode
 */

/** The languages a paste can have: id (stored, in URLs), display name, download extension. */
/** @type {readonly Language[]} */
export const LANGUAGES = [
  { id: 'plaintext', name: 'Plain text', ext: 'txt' },
  { id: 'bash', name: 'Bash', ext: 'sh', grammar: bash },
  { id: 'c', name: 'C', ext: 'c', grammar: c },
  { id: 'cpp', name: 'C++', ext: 'cpp', grammar: cpp },
  { id: 'csharp', name: 'C#', ext: 'cs', grammar: csharp },
  { id: 'css', name: 'CSS', ext: 'css', grammar: css },
  { id: 'diff', name: 'Diff', ext: 'diff', grammar: diff },
  { id: 'dockerfile', name: 'Dockerfile', ext: 'dockerfile', grammar: dockerfile },
  { id: 'elixir', name: 'Elixir', ext: 'ex', grammar: elixir },
  { id: 'go', name: 'Go', ext: 'go', grammar: go },
  { id: 'haskell', name: 'Haskell', ext: 'hs', grammar: haskell },
  { id: 'html', name: 'HTML / XML', ext: 'html', grammar: xml },
  { id: 'ini', name: 'INI / TOML', ext: 'ini', grammar: ini },
  { id: 'java', name: 'Java', ext: 'java', grammar: java },
  { id: 'javascript', name: 'JavaScript', ext: 'js', grammar: javascript },
  { id: 'json', name: 'JSON', ext: 'json', grammar: json },
  { id: 'kotlin', name: 'Kotlin', ext: 'kt', grammar: kotlin },
  { id: 'lua', name: 'Lua', ext: 'lua', grammar: lua },
  { id: 'makefile', name: 'Makefile', ext: 'mk', grammar: makefile },
  { id: 'markdown', name: 'Markdown', ext: 'md', grammar: markdown },
  { id: 'nginx', name: 'Nginx', ext: 'conf', grammar: nginx },
  { id: 'perl', name: 'Perl', ext: 'pl', grammar: perl },
  { id: 'php', name: 'PHP', ext: 'php', grammar: php },
  { id: 'python', name: 'Python', ext: 'py', grammar: python },
  { id: 'r', name: 'R', ext: 'r', grammar: r },
  { id: 'ruby', name: 'Ruby', ext: 'rb', grammar: ruby },
  { id: 'rust', name: 'Rust', ext: 'rs', grammar: rust },
  { id: 'scss', name: 'SCSS', ext: 'scss', grammar: scss },
  { id: 'sql', name: 'SQL', ext: 'sql', grammar: sql },
  { id: 'swift', name: 'Swift', ext: 'swift', grammar: swift },
  { id: 'typescript', name: 'TypeScript', ext: 'ts', grammar: typescript },
  { id: 'yaml', name: 'YAML', ext: 'yaml', grammar: yaml },
]

for (const language of LANGUAGES) {
  if (language.grammar) hljs.registerLanguage(language.id, language.grammar)
}
const DETECTABLE = LANGUAGES.filter((l) => l.grammar).map((l) => l.id)
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
 * Wraps each line in its own element with an #L<n> anchor.
 * @param {string} html highlighted or escaped text
 * @param {number} maxLines beyond this many lines, no per-line markup (anchors stop there)
 */
export function splitLines(html, maxLines) {
  if (html.split('\n', maxLines + 2).length > maxLines + (html.endsWith('\n') ? 1 : 0)) {
    return `<span class="line plain">${html}</span>`
  }
  return htmlLines(html).map((line, i) => {
    const n = i + 1
    return `<span class="line" id="L${n}"><a class="ln" href="#L${n}" data-n="${n}" aria-hidden="true" tabindex="-1"></a>` +
      `<span class="lc">${line}</span></span>\n`
  }).join('')
}

/**
 * The text as HTML: highlighted in `language` when it has a grammar and `highlight` is set,
 * else escaped.
 * @param {string} text
 * @param {string} language a language id (not 'auto')
 * @param {boolean} highlight
 */
export function highlightText(text, language, highlight) {
  return highlight && language !== 'plaintext' && hljs.getLanguage(language)
    ? hljs.highlight(text, { language, ignoreIllegals: true }).value
    : escapeHtml(text)
}

/**
 * @param {string} text the paste
 * @param {string} requested a language id, or 'auto'
 * @param {{ highlight: boolean, detectChars: number, maxLines: number }} options
 *   highlight: false renders plain text (too large to highlight)
 * @returns {RenderedCode}
 */
export function renderCode(text, requested, options) {
  let language = requested
  /** @type {string | null} */
  let highlighted = null
  if (!options.highlight) {
    if (language === 'auto') language = 'plaintext'
  } else if (language === 'auto') {
    const sample = text.length > options.detectChars ? text.slice(0, options.detectChars) : text
    const guess = hljs.highlightAuto(sample, DETECTABLE)
    language = guess.language && guess.relevance >= MIN_RELEVANCE ? guess.language : 'plaintext'
    if (language !== 'plaintext' && sample === text) highlighted = guess.value
  }
  if (highlighted === null) highlighted = highlightText(text, language, options.highlight)
  return { language, html: splitLines(highlighted, options.maxLines) }
}
