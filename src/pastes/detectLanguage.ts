// Guesses a paste's language in microseconds, on the create path: a file name's extension,
// then a shebang, then weighted votes of distinctive patterns over the first 64 KB.
// (highlight.js's own auto-detection runs every grammar: ~12 ms for 2 KB on this machine,
// and it calls fastify.js PHP. Votes are faster and, on our corpus, more often right.)
import { LANGUAGES } from './code.js'

const SAMPLE_CHARS = 64 * 1024
/** Below this score nothing stood out: plain text reads better than wrong colours. */
const MIN_SCORE = 6
/** A pattern counts at most this many times, so one long repetitive file cannot swamp the vote. */
const MAX_HITS = 4

const EXTENSIONS: Record<string, string> = {
  mjs: 'javascript', cjs: 'javascript', jsx: 'javascript', tsx: 'typescript', mts: 'typescript', cts: 'typescript',
  h: 'c', hpp: 'cpp', cc: 'cpp', cxx: 'cpp', hh: 'cpp', htm: 'html', xml: 'html', svg: 'html', xhtml: 'html',
  toml: 'ini', cfg: 'ini', conf: 'ini', yml: 'yaml', markdown: 'markdown', bash: 'bash', zsh: 'bash',
  patch: 'diff', exs: 'elixir', pm: 'perl', kts: 'kotlin', txt: 'plaintext', log: 'plaintext', text: 'plaintext',
}
for (const language of LANGUAGES) EXTENSIONS[language.ext] ??= language.id

const FILE_NAMES: Record<string, string> = {
  dockerfile: 'dockerfile', containerfile: 'dockerfile', makefile: 'makefile', gnumakefile: 'makefile',
  'nginx.conf': 'nginx', gemfile: 'ruby', rakefile: 'ruby', '.bashrc': 'bash', '.zshrc': 'bash', '.profile': 'bash',
}

const SHEBANGS: [RegExp, string][] = [
  [/python/, 'python'], [/\b(ba|z|da|k)?sh\b/, 'bash'], [/\b(node|deno|bun)\b/, 'javascript'],
  [/ruby/, 'ruby'], [/perl/, 'perl'], [/php/, 'php'], [/lua/, 'lua'], [/Rscript/, 'r'], [/elixir/, 'elixir'],
]

type Votes = [pattern: RegExp, weight: number][]

/** Patterns that mark a language. `extends` adds a base language's votes (TypeScript is JavaScript and more). */
const SIGNS: Record<string, { votes: Votes; extends?: string }> = {
  javascript: { votes: [[/\b(const|let) \w+ = /g, 1], [/\bfunction\s*\w*\s*\(/g, 1], [/=>\s*[{(\w]/g, 1], [/\bconsole\.\w+\(/g, 3],
    [/\brequire\(['"]/g, 3], [/\bmodule\.exports\b/g, 4], [/\bexport (default|const|function|class)\b/g, 2], [/===|!==/g, 2],
    [/\b(document|window)\.\w+/g, 3], [/\bawait \w+/g, 1], [/^import .+ from ['"]/gm, 2]] },
  typescript: { extends: 'javascript', votes: [[/\w\??: (string|number|boolean|void|any|unknown|never)\b/g, 4],
    [/\binterface \w+ (extends [\w, ]+)?\{/g, 4], [/\btype \w+(<[^>]*>)? = /g, 3], [/\bas const\b/g, 4], [/\benum \w+ \{/g, 3],
    [/\b(private|public|readonly) \w+\??:/g, 3], [/<[A-Z]\w*(, ?[A-Z]\w*)*>\(/g, 2]] },
  python: { votes: [[/^\s*def \w+\(.*\)( -> [^:]+)?:\s*$/gm, 4], [/^\s*(from [\w.]+ )?import [\w.]+( as \w+)?$/gm, 2],
    [/^\s*class \w+(\(.*\))?:\s*$/gm, 4], [/\bself\.\w+/g, 3], [/\belif\b/g, 4], [/\bprint\(/g, 1], [/^\s*@\w+/gm, 1],
    [/\bNone\b|\bTrue\b|\bFalse\b/g, 2], [/^\s*if __name__ == ['"]__main__['"]:/gm, 8], [/\bf['"]/g, 1]] },
  go: { votes: [[/^package \w+$/gm, 5], [/\bfunc (\([^)]*\) )?\w+\(/g, 4], [/:=/g, 2], [/\bfmt\.\w+\(/g, 4],
    [/^import \($/gm, 4], [/\bgo func\b|\bchan \w+|\bdefer \w+/g, 3], [/\berr != nil\b/g, 5]] },
  rust: { votes: [[/\bfn \w+(<[^>]*>)?\(/g, 3], [/\blet mut\b/g, 5], [/^\s*impl\b/gm, 4], [/\bpub (fn|struct|enum|mod)\b/g, 4],
    [/\b(println|vec|format|panic)!\(/g, 5], [/^use \w+(::[\w{}, *]+)+;/gm, 4], [/&mut \w+|&self\b/g, 4], [/\bOption<|\bResult</g, 3]] },
  c: { votes: [[/^#include\s*[<"][\w./]+[>"]/gm, 4], [/\bint main\s*\(/g, 3], [/\bprintf\(/g, 2], [/\b(malloc|free|memcpy|strlen)\(/g, 3],
    [/^#define \w+/gm, 3], [/\bsizeof\s*\(/g, 2], [/\btypedef struct\b/g, 4], [/\w->\w/g, 1]] },
  cpp: { extends: 'c', votes: [[/\bstd::\w+/g, 5], [/\b(cout|cerr)\s*<</g, 5], [/#include <(iostream|vector|string|map|memory|algorithm)>/g, 6],
    [/\btemplate\s*</g, 4], [/^\s*namespace \w+/gm, 3], [/\bnullptr\b/g, 4], [/\b(public|private|protected):/g, 3]] },
  csharp: { votes: [[/^using System(\.\w+)*;/gm, 6], [/\bConsole\.Write(Line)?\(/g, 6], [/\{ get; (private )?set; \}/g, 6],
    [/\basync Task\b/g, 5], [/^namespace [\w.]+/gm, 2], [/\bpublic (static )?(void|class|string|int|bool)\b/g, 1], [/\bvar \w+ = new\b/g, 2]] },
  java: { votes: [[/\bSystem\.(out|err)\.print/g, 6], [/^import java(x)?\.[\w.*]+;/gm, 6], [/\bpublic static void main\(String/g, 8],
    [/@Override\b/g, 4], [/\bprivate (final|static) \w+/g, 2], [/\bpublic (static )?(void|class|final|int|String)\b/g, 2], [/\bString\[\]/g, 3]] },
  kotlin: { votes: [[/\bfun \w+(<[^>]*>)?\(/g, 4], [/\bval \w+(: [\w<>?]+)? =/g, 3], [/\bdata class\b/g, 6], [/\bcompanion object\b/g, 6],
    [/\bprintln\(/g, 1], [/: (String|Int|Boolean|Unit)\??\b/g, 2], [/\?\.let \{/g, 5]] },
  swift: { votes: [[/^import (UIKit|Foundation|SwiftUI)$/gm, 8], [/\bguard let\b/g, 6], [/\bif let\b/g, 4], [/\bfunc \w+\(/g, 2],
    [/\bvar \w+: \w+/g, 1], [/\blet \w+: \w+/g, 1], [/\bstruct \w+: \w+/g, 3], [/\b@State\b|\bsome View\b/g, 6]] },
  ruby: { votes: [[/^\s*def \w+[?!]?(\(.*\))?\s*$/gm, 3], [/^\s*end\s*$/gm, 2], [/\bputs\b/g, 3], [/^require ['"]/gm, 2],
    [/\battr_(accessor|reader|writer)\b/g, 6], [/\.each do \|/g, 6], [/\bdo \|\w+(, ?\w+)*\|/g, 4], [/\belsif\b/g, 5], [/\bnil\b/g, 2]] },
  php: { votes: [[/<\?php/g, 12], [/\$\w+\s*=[^=]/g, 2], [/\bfunction \w+\(\$/g, 5], [/\becho\b/g, 2], [/\$this->/g, 5], [/^namespace [\w\\]+;/gm, 4]] },
  perl: { votes: [[/\bmy [$@%]\w+/g, 4], [/^use (strict|warnings);/gm, 6], [/\$_\b/g, 2], [/=~ [sm]?\//g, 4], [/\bsub \w+\s*\{/g, 4], [/@ARGV\b/g, 4]] },
  bash: { votes: [[/^\s*(if|while|for|until) .*; (then|do)\b/gm, 5], [/^\s*fi\s*$/gm, 4], [/^\s*done\s*$/gm, 2], [/\becho\b/g, 1],
    [/^\s*export \w+=/gm, 4], [/\$\(\w/g, 2], [/\|\s*(grep|awk|sed|xargs|sort|head|tail)\b/g, 3], [/\$\{\w+[:#%}]/g, 3],
    [/^\s*(sudo |apt(-get)? |npm |pip |curl |docker |git |cd |mkdir |chmod )/gm, 2], [/^\$ \w/gm, 3], [/ (&&|\|\|) \w/g, 1]] },
  sql: { votes: [[/\bSELECT\b[^;]*?\bFROM\b/gi, 5], [/\bINSERT INTO\b/gi, 6], [/\bCREATE (TABLE|INDEX|VIEW)\b/gi, 6],
    [/\bUPDATE \w+ SET\b/gi, 6], [/\bWHERE\b/gi, 1], [/\b(LEFT |INNER )?JOIN\b/gi, 2], [/\bPRIMARY KEY\b/gi, 4], [/\bGROUP BY\b|\bORDER BY\b/gi, 2]] },
  html: { votes: [[/<!DOCTYPE html>/gi, 12], [/<\?xml\b/g, 10], [/<\/?(div|span|p|a|body|head|html|ul|li|table|tr|td|h[1-6]|section|nav)\b[^>]*>/gi, 2],
    [/<(script|style|link|meta)\b/gi, 3]] },
  css: { votes: [[/^[.#][\w-]+[^\n{;()=]*\{\s*$/gm, 2], [/^\s*[\w-]+\s*:\s*[^;{}]+;\s*$/gm, 2], [/@media\b/g, 4],
    [/\b(color|margin|padding|display|font-size|background|border)\s*:/g, 3]] },
  scss: { extends: 'css', votes: [[/^\s*\$[\w-]+\s*:/gm, 5], [/@(mixin|include|extend)\b/g, 6], [/&(:\w+|__|--|\.)/g, 4]] },
  yaml: { votes: [[/^\s*[\w.-]+:\s+\S.*$/gm, 1], [/^\s*- [\w.-]+:\s/gm, 3], [/^---\s*$/gm, 3], [/^\s*[\w.-]+:\s*$/gm, 2], [/^\s+- \S/gm, 1]] },
  markdown: { votes: [[/^#{1,6} \S/gm, 3], [/^\s*[-*+] \S/gm, 1], [/\[[^\]\n]+\]\([^)\n]+\)/g, 4], [/^```/gm, 5], [/\*\*[^*\n]+\*\*/g, 2], [/^> \S/gm, 2]] },
  dockerfile: { votes: [[/^FROM \S+/gm, 6], [/^(RUN|COPY|CMD|ENTRYPOINT|WORKDIR|ENV|EXPOSE|ARG|USER|HEALTHCHECK) /gm, 4]] },
  makefile: { votes: [[/^[\w.%/-]+:( [\w.%/$()-]+)*\s*$/gm, 2], [/^\t\S/gm, 1], [/\$\([\w@<^]+\)|\$[@<^]/g, 3], [/^\.PHONY:/gm, 8]] },
  diff: { votes: [[/^@@ -\d+(,\d+)? \+\d+(,\d+)? @@/gm, 8], [/^(\+\+\+|---) (a|b)\//gm, 6], [/^diff --git /gm, 10], [/^index [0-9a-f]+\.\.[0-9a-f]+/gm, 6]] },
  ini: { votes: [[/^\[[\w.\s"'-]+\]\s*$/gm, 4], [/^\s*[\w.-]+\s*=\s*\S.*$/gm, 1]] },
  lua: { votes: [[/\blocal \w+\s*=/g, 4], [/~=/g, 4], [/\belseif\b/g, 3], [/\.\.\s*['"]/g, 2], [/^\s*end\s*$/gm, 1], [/\bfunction \w+[.:]\w+\(/g, 4]] },
  haskell: { votes: [[/^\w+\s*::\s*.+$/gm, 5], [/^module [\w.]+( \(.*\))? where$/gm, 8], [/^import qualified\b/gm, 6], [/^data \w+ =/gm, 4], [/\s<-\s/g, 1]] },
  elixir: { votes: [[/\bdefmodule\b/g, 8], [/^\s*def(p)? \w+.*\bdo\s*$/gm, 4], [/\|>/g, 3], [/\{:ok,/g, 4], [/^\s*end\s*$/gm, 1]] },
  r: { votes: [[/<-\s*function\s*\(/g, 6], [/\blibrary\(\w+\)/g, 6], [/\bdata\.frame\(/g, 6], [/\s<-\s/g, 1], [/\bc\(/g, 1]] },
  nginx: { votes: [[/^\s*server\s*\{/gm, 4], [/^\s*location\s+\S+\s*\{/gm, 6], [/\bproxy_pass\b/g, 6], [/^\s*listen\s+\d+/gm, 4], [/^\s*server_name\b/gm, 6]] },
}

function byFileName(name: string | undefined): string | null {
  if (!name) return null
  const base = name.trim().split(/[\\/]/).pop()?.toLowerCase() ?? ''
  if (FILE_NAMES[base]) return FILE_NAMES[base]
  const dot = base.lastIndexOf('.')
  return dot > 0 ? (EXTENSIONS[base.slice(dot + 1)] ?? null) : null
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

function score(language: string, sample: string, known: Map<string, number>): number {
  const signs = SIGNS[language]
  if (!signs) return 0
  let total = signs.extends ? (known.get(signs.extends) ?? score(signs.extends, sample, known)) : 0
  for (const [pattern, weight] of signs.votes) {
    pattern.lastIndex = 0
    let hits = 0
    while (hits < MAX_HITS && pattern.exec(sample) !== null) hits++
    total += hits * weight
  }
  known.set(language, total)
  return total
}

/** The language id for a paste sent as 'auto'; `fileName` is a title or upload name that may carry an extension. */
export function detectLanguage(text: string, fileName?: string): string {
  const named = byFileName(fileName)
  if (named) return named
  const shebang = byShebang(text)
  if (shebang) return shebang
  const sample = text.length > SAMPLE_CHARS ? text.slice(0, SAMPLE_CHARS) : text
  if (looksLikeJson(sample)) return 'json'
  let best = 'plaintext'
  let bestScore = MIN_SCORE - 1
  const known = new Map<string, number>()
  for (const language of Object.keys(SIGNS)) {
    const s = known.get(language) ?? score(language, sample, known)
    // Strictly greater: a base language wins ties against the languages extending it.
    if (s > bestScore) {
      best = language
      bestScore = s
    }
  }
  return best
}
