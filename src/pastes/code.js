// The server's highlighter: highlight.js with every grammar registered, rendering through the
// code-block markup it shares with the browser (src/shared/codeBlock.js). Plain JavaScript on
// purpose: it also runs inside a worker thread, which under Node 20 cannot load TypeScript
// sources in development and tests.
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
import { escapeHtml, highlightWith, htmlLines, renderCodeWith, splitLines } from '../shared/codeBlock.js'
import { LANGUAGE_INFO } from '../shared/languages.js'

/**
 * @typedef {import('../shared/languages.js').LanguageInfo} LanguageInfo
 * @typedef {{ id: string, name: string, ext: string, grammar?: import('highlight.js').LanguageFn }} Language
 * @typedef {import('../shared/codeBlock.js').RenderedCode} RenderedCode
 */

/** @type {Record<string, import('highlight.js').LanguageFn>} */
const GRAMMARS = {
  bash, c, cpp, csharp, css, diff, dockerfile, elixir, go, haskell, xml, ini, java, javascript, json, kotlin, lua,
  makefile, markdown, nginx, perl, php, python, r, ruby, rust, scss, sql, swift, typescript, yaml,
}

/** The languages a paste can have (src/shared/languages.js), with their grammars. */
/** @type {readonly Language[]} */
export const LANGUAGES = LANGUAGE_INFO.map(({ id, name, ext, grammar }) => {
  const fn = grammar === null ? undefined : GRAMMARS[grammar]
  if (grammar !== null && !fn) throw new Error(`code.js imports no grammar "${grammar}"`)
  return fn ? { id, name, ext, grammar: fn } : { id, name, ext }
})

for (const language of LANGUAGES) {
  if (language.grammar) hljs.registerLanguage(language.id, language.grammar)
}
const DETECTABLE = LANGUAGES.filter((l) => l.grammar).map((l) => l.id)

export { escapeHtml, htmlLines, splitLines }

/**
 * The text as HTML: highlighted in `language` (an id, not 'auto') when it has a grammar and
 * `highlight` is set, else escaped.
 * @param {string} text
 * @param {string} language
 * @param {boolean} highlight
 */
export function highlightText(text, language, highlight) {
  return highlightWith(hljs, text, language, highlight)
}

/**
 * @param {string} text the paste
 * @param {string} requested a language id, or 'auto'
 * @param {import('../shared/codeBlock.js').RenderOptions} options
 *   highlight: false renders plain text (too large to highlight)
 * @returns {RenderedCode}
 */
export function renderCode(text, requested, options) {
  return renderCodeWith(hljs, DETECTABLE, text, requested, options)
}

/**
 * @typedef {{ content: Uint8Array | string, language: string, options: import('../shared/codeBlock.js').RenderOptions, room: { before: number, after: number } }} BlockTask
 */

/**
 * A paste's code block as UTF-8 bytes, written `room.before` bytes into a buffer of their own
 * (never a slice of Node's pool, so that the render thread can move it), with `room.after` free
 * bytes behind them: the page's head and tail are then written around them, not joined to a
 * copy. The paste comes as its stored UTF-8 bytes (already checked well-formed) or as text.
 * @param {BlockTask} task
 * @returns {Buffer}
 */
export function renderBlock(task) {
  const text = typeof task.content === 'string' ? task.content : new TextDecoder().decode(task.content)
  const { html } = renderCode(text, task.language, task.options)
  const { before, after } = task.room
  const bytes = Buffer.allocUnsafeSlow(before + Buffer.byteLength(html) + after)
  bytes.write(html, before)
  return bytes
}
