// Guesses a paste's language in tens of microseconds, on the create path: a file name's
// extension, then a shebang, then a vote over the first 16 KB in one pass: each language
// weighs the words, literal symbols and line shapes that mark it.
// (highlight.js's own detection runs every grammar: 11-15 ms for 2 KB on this machine, and it
// takes fastify.js for PHP. Per-language regexes cost 150-900 us for 2 KB: too slow as well.)
import { LANGUAGE_INFO } from '../shared/languages.js'

/** ~400 lines of code: enough to tell languages apart, and ~1 ms on a 1 MiB paste (64 KB took ~4 ms). */
const SAMPLE_CHARS = 16 * 1024
/** Lines looked at for line shapes (YAML keys, Markdown headings, Makefile rules, ...). */
const SAMPLE_LINES = 400
/** Below this score nothing stood out: plain text reads better than wrong colours. */
const MIN_SCORE = 8
/** A sign counts at most this many times, so one repetitive file cannot swamp the vote. */
const MAX_HITS = 4
/** Line shapes are the main sign of data formats: they may count more often. */
const MAX_LINE_HITS = 8

// Maps, not object literals: the keys come from user input (upload names), and a name such as
// "constructor" or "x.__proto__" must not find an Object's inherited properties.
const EXTENSIONS = new Map(Object.entries({
  mjs: 'javascript', cjs: 'javascript', jsx: 'javascript', tsx: 'typescript', mts: 'typescript', cts: 'typescript',
  h: 'c', hpp: 'cpp', cc: 'cpp', cxx: 'cpp', hh: 'cpp', htm: 'html', xml: 'html', svg: 'html', xhtml: 'html',
  toml: 'ini', cfg: 'ini', conf: 'ini', yml: 'yaml', markdown: 'markdown', bash: 'bash', zsh: 'bash',
  patch: 'diff', exs: 'elixir', pm: 'perl', kts: 'kotlin', txt: 'plaintext', log: 'plaintext', text: 'plaintext',
}))
for (const language of LANGUAGE_INFO) if (!EXTENSIONS.has(language.ext)) EXTENSIONS.set(language.ext, language.id)

const FILE_NAMES = new Map(Object.entries({
  dockerfile: 'dockerfile', containerfile: 'dockerfile', makefile: 'makefile', gnumakefile: 'makefile',
  'nginx.conf': 'nginx', gemfile: 'ruby', rakefile: 'ruby', '.bashrc': 'bash', '.zshrc': 'bash', '.profile': 'bash',
}))

const SHEBANGS: [RegExp, string][] = [
  [/python/, 'python'], [/\b(ba|z|da|k)?sh\b/, 'bash'], [/\b(node|deno|bun)\b/, 'javascript'],
  [/ruby/, 'ruby'], [/perl/, 'perl'], [/php/, 'php'], [/lua/, 'lua'], [/Rscript/, 'r'], [/elixir/, 'elixir'],
]

/** Shapes of a line, counted once over the first lines; languages weigh them. */
type LineShape =
  | 'pyBlock' | 'yamlKey' | 'yamlItem' | 'yamlDoc' | 'mdHeading' | 'mdFence' | 'mdLink' | 'mdBullet' | 'iniSection'
  | 'iniPair' | 'makeRule' | 'makeRecipe' | 'dockerInstr' | 'dockerFrom' | 'diffHunk' | 'diffFile' | 'cssRule' | 'cssDecl' | 'shellPrompt'

interface Signs {
  words?: Record<string, number>
  symbols?: Record<string, number>
  lines?: Partial<Record<LineShape, number>>
  /** Adds a base language's votes (it must be listed before): TypeScript is JavaScript and more. */
  extends?: string
}

const SIGNS: Record<string, Signs> = {
  javascript: {
    words: { const: 1, let: 1, function: 2, require: 3, console: 3, exports: 3, undefined: 3, typeof: 2, await: 1, document: 3, window: 3, prototype: 3 },
    symbols: { '=>': 2, '===': 3, '!==': 3, 'module.exports': 4, " from '": 2, ' from "': 2 },
  },
  typescript: {
    extends: 'javascript',
    words: { interface: 3, readonly: 3, implements: 2, keyof: 5, unknown: 2, namespace: 1 },
    symbols: { ': string': 4, ': number': 4, ': boolean': 4, ': void': 4, 'as const': 4, '<T>': 3, 'export type ': 4 },
  },
  python: {
    words: { def: 3, elif: 5, self: 3, None: 2, True: 1, False: 1, lambda: 3, __name__: 5, __init__: 5, pass: 2, isinstance: 4, print: 1, import: 1, range: 1 },
    lines: { pyBlock: 2 },
  },
  go: {
    words: { func: 3, package: 2, fmt: 4, chan: 4, defer: 4, nil: 2, Println: 3, Printf: 2, err: 1 },
    symbols: { ':=': 3, 'err != nil': 6, 'package main': 6 },
  },
  rust: {
    words: { fn: 3, mut: 4, impl: 4, pub: 2, Some: 2, Vec: 3, usize: 5, u32: 3, i32: 3, crate: 5, trait: 3, Option: 2, Result: 1 },
    symbols: { '::': 1, 'println!': 5, '&mut': 4, '#[derive': 6, '&self': 4 },
  },
  c: {
    words: { include: 2, define: 2, printf: 3, malloc: 4, sizeof: 3, typedef: 3, struct: 1, unsigned: 3, NULL: 3, char: 1, int: 1 },
    symbols: { '#include <': 4, '#include "': 4, '->': 1 },
  },
  cpp: {
    extends: 'c',
    words: { std: 5, cout: 5, template: 4, namespace: 2, nullptr: 4, virtual: 3, vector: 2 },
    symbols: { '::': 1, '#include <iostream>': 6 },
  },
  csharp: {
    words: { Console: 5, WriteLine: 5, Task: 3, namespace: 1, using: 1 },
    symbols: { 'using System': 6, '{ get; set; }': 6 },
  },
  java: {
    words: { System: 3, println: 2, Override: 5, throws: 4, ArrayList: 4, HashMap: 4, extends: 1, final: 1, String: 1, public: 1 },
    symbols: { 'System.out.print': 6, 'import java.': 6, 'public static void main': 6 },
  },
  kotlin: {
    words: { fun: 4, val: 3, println: 1, companion: 6, Unit: 4, override: 1 },
    symbols: { '?.let': 5, 'data class': 6 },
  },
  swift: {
    words: { guard: 6, UIKit: 8, SwiftUI: 8, Foundation: 4, protocol: 3, func: 1 },
    symbols: { 'if let ': 5, 'some View': 6 },
  },
  ruby: {
    words: { def: 2, end: 3, puts: 4, attr_accessor: 6, attr_reader: 6, elsif: 6, nil: 2, unless: 3 },
    symbols: { '.each do |': 6, ' do |': 4, '#{': 2 },
  },
  php: {
    words: { echo: 2, foreach: 2, array: 1 },
    symbols: { '<?php': 12, '$this->': 6, '->': 1, 'function $': 0 },
  },
  perl: {
    words: { my: 3, sub: 3, strict: 4, warnings: 3 },
    symbols: { '$_': 3, '@ARGV': 5, '=~': 4 },
  },
  bash: {
    words: { echo: 2, fi: 5, then: 2, done: 2, esac: 6, export: 2, sudo: 3, grep: 2, awk: 3, mkdir: 2, chmod: 3 },
    symbols: { '$(': 2, '${': 2, '; then': 5, '; do': 4, '| grep': 3, '&& ': 1 },
    lines: { shellPrompt: 3 },
  },
  sql: {
    words: { SELECT: 4, FROM: 2, WHERE: 2, INSERT: 4, INTO: 2, UPDATE: 2, CREATE: 2, TABLE: 3, JOIN: 3, GROUP: 2, PRIMARY: 3, VALUES: 3, VARCHAR: 5, select: 3, join: 1 },
  },
  html: {
    symbols: { '<!DOCTYPE': 12, '<!doctype': 12, '<?xml': 10, '<div': 3, '</div>': 3, '<span': 2, '<html': 6, '<body': 5, '<a href': 3, '<p>': 2, '</': 1 },
  },
  css: {
    symbols: { 'px;': 3, 'em;': 2, 'color:': 3, 'margin:': 3, 'padding:': 3, 'display:': 3, '@media': 5, 'font-': 2 },
    lines: { cssRule: 2, cssDecl: 1 },
  },
  scss: {
    extends: 'css',
    symbols: { '@mixin': 6, '@include': 6, '&:': 4, '&.': 3 },
  },
  yaml: { lines: { yamlKey: 2, yamlItem: 2, yamlDoc: 3 } },
  // A `# heading` reads the same as a Perl, Python or shell comment: it weighs little.
  markdown: { lines: { mdHeading: 1, mdFence: 4, mdLink: 3, mdBullet: 1 } },
  dockerfile: { lines: { dockerFrom: 6, dockerInstr: 4 } },
  makefile: { symbols: { '.PHONY': 8, '$(': 1, '$@': 4, '$<': 4 }, lines: { makeRule: 2, makeRecipe: 1 } },
  diff: { lines: { diffHunk: 8, diffFile: 6 } },
  ini: { lines: { iniSection: 4, iniPair: 1 } },
  lua: { words: { local: 3, elseif: 4, ipairs: 5, pairs: 3, nil: 1, end: 1 }, symbols: { '~=': 4 } },
  haskell: { words: { qualified: 6, deriving: 6, instance: 2, Maybe: 4, where: 1 }, symbols: { ' :: ': 3, '<-': 1 } },
  elixir: { words: { defmodule: 8, defp: 6, end: 1 }, symbols: { '|>': 4, '{:ok': 5, '%{': 2 } },
  r: { words: { library: 4, TRUE: 2, FALSE: 2 }, symbols: { '<- function': 6, 'data.frame': 6, ' <- ': 2 } },
  nginx: { words: { location: 3, proxy_pass: 6, server_name: 6, listen: 2 }, symbols: { 'location /': 5 } },
}

function byFileName(name: string | undefined): string | null {
  if (!name) return null
  const base = name.trim().split(/[\\/]/).pop()?.toLowerCase() ?? ''
  const named = FILE_NAMES.get(base)
  if (named) return named
  const dot = base.lastIndexOf('.')
  return dot > 0 ? (EXTENSIONS.get(base.slice(dot + 1)) ?? null) : null
}

function byShebang(text: string): string | null {
  if (!text.startsWith('#!')) return null
  const line = text.slice(0, text.indexOf('\n') >>> 0)
  for (const [pattern, language] of SHEBANGS) if (pattern.test(line)) return language
  return null
}

function looksLikeJson(sample: string): boolean {
  const trimmed = sample.trim()
  if (!/^[[{]/.test(trimmed)) return false
  if (trimmed.length < SAMPLE_CHARS) {
    try {
      JSON.parse(trimmed)
      return true
    } catch {
      return false
    }
  }
  return /^[[{]\s*("[^"\n]*"\s*:|[[{"\d])/.test(trimmed)
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*/g

function countWords(sample: string): Map<string, number> {
  const counts = new Map<string, number>()
  WORD.lastIndex = 0
  for (let match = WORD.exec(sample); match !== null; match = WORD.exec(sample)) {
    counts.set(match[0], (counts.get(match[0]) ?? 0) + 1)
  }
  return counts
}

/** Share of characters that prose rarely uses and code always does: { } ( ) ; = < > [ ] */
function codeDensity(sample: string): number {
  return sample.replace(/[^{}();=<>[\]]+/g, '').length / Math.max(1, sample.length)
}

function countSymbol(sample: string, symbol: string): number {
  let hits = 0
  for (let at = sample.indexOf(symbol); at !== -1 && hits < MAX_HITS; at = sample.indexOf(symbol, at + symbol.length)) hits++
  return hits
}

const DOCKER_INSTRUCTIONS = /^(RUN|COPY|ADD|CMD|ENTRYPOINT|WORKDIR|ENV|EXPOSE|ARG|USER|HEALTHCHECK|LABEL|VOLUME) /

/** Counts the line shapes over the first lines, with string tests rather than regex scans. */
function countLines(sample: string): Record<LineShape, number> {
  const shapes = {} as Record<LineShape, number>
  const add = (shape: LineShape) => (shapes[shape] = (shapes[shape] ?? 0) + 1)
  let start = 0
  for (let n = 0; n < SAMPLE_LINES && start < sample.length; n++) {
    let end = sample.indexOf('\n', start)
    if (end === -1) end = sample.length
    const line = sample.slice(start, end)
    start = end + 1
    const text = line.trim()
    if (text === '') continue
    const first = text[0]
    if (line[0] === '\t' && n > 0) add('makeRecipe')
    if (text.endsWith(':') && /^(def|class|if|elif|else|for|while|try|except|with|async def)\b/.test(text)) add('pyBlock')
    if (first === '#') {
      if (/^#{1,6} \S/.test(text)) add('mdHeading')
    } else if (text.startsWith('```')) add('mdFence')
    else if (text === '---') add('yamlDoc')
    else if (text.startsWith('@@ -')) add('diffHunk')
    else if (text.startsWith('+++ ') || text.startsWith('--- a/') || text.startsWith('diff --git')) add('diffFile')
    else if (first === '[' && text.endsWith(']') && !text.includes(' = ')) add('iniSection')
    else if (text.startsWith('FROM ') && line.startsWith('FROM ')) add('dockerFrom')
    else if (DOCKER_INSTRUCTIONS.test(line)) add('dockerInstr')
    else if (text.startsWith('$ ')) add('shellPrompt')
    else if (first === '-' && text[1] === ' ') {
      add('mdBullet')
      if (/^- [\w.-]+:(\s|$)/.test(text)) add('yamlItem')
    } else if (text.endsWith('{') && (first === '.' || first === '#' || first === '@') && !text.includes('(')) add('cssRule')
    else if (/^[\w-]+\s*:\s*[^;{}]+;$/.test(text)) add('cssDecl')
    else if (/^[\w.-]+:(\s|$)/.test(text) && !/[,;]$/.test(text)) {
      add('yamlKey')
      if (/^[\w.%/-]+:( [\w.%/$()-]+)*$/.test(line) && !line.includes(': ')) add('makeRule')
    } else if (/^[\w.-]+\s*=\s*\S/.test(text)) add('iniPair')
    if (text.includes('](')) add('mdLink')
  }
  return shapes
}

/** Languages whose signs are words and symbols: prose-like text must not pass for them. */
const LINE_FORMATS = new Set(['yaml', 'markdown', 'dockerfile', 'makefile', 'diff', 'ini', 'html'])
/** Below this share of code punctuation, word votes for code languages fade towards zero. */
const CODE_DENSITY = 0.02

const TABLES = Object.entries(SIGNS).map(([language, signs]) => ({
  language,
  base: signs.extends,
  words: Object.entries(signs.words ?? {}),
  symbols: Object.entries(signs.symbols ?? {}).filter(([, weight]) => weight > 0),
  lines: Object.entries(signs.lines ?? {}) as [LineShape, number][],
  isCode: !LINE_FORMATS.has(language),
}))

/** The language id for a paste sent as 'auto'; `fileName` is a title or upload name that may carry an extension. */
export function detectLanguage(text: string, fileName?: string): string {
  const named = byFileName(fileName)
  if (named) return named
  const shebang = byShebang(text)
  if (shebang) return shebang
  const sample = text.length > SAMPLE_CHARS ? text.slice(0, SAMPLE_CHARS) : text
  if (looksLikeJson(sample)) return 'json'

  const words = countWords(sample)
  const lines = countLines(sample)
  const codeFactor = Math.min(1, codeDensity(sample) / CODE_DENSITY)
  const scores = new Map<string, number>()
  let best = 'plaintext'
  let bestScore = MIN_SCORE - 1
  for (const table of TABLES) {
    let total = table.base ? (scores.get(table.base) ?? 0) : 0
    for (const [word, weight] of table.words) total += weight * Math.min(MAX_HITS, words.get(word) ?? 0)
    for (const [symbol, weight] of table.symbols) total += weight * countSymbol(sample, symbol)
    for (const [shape, weight] of table.lines) total += weight * Math.min(MAX_LINE_HITS, lines[shape] ?? 0)
    scores.set(table.language, total)
    const judged = table.isCode ? total * codeFactor : total
    // Strictly greater: a base language (listed first) wins ties against those extending it.
    if (judged > bestScore) {
      best = table.language
      bestScore = judged
    }
  }
  return best
}
