import { describe, expect, it } from 'vitest'
import { escapeHtml, renderCode, splitLines } from '../../src/pastes/code.js'
import { detectLanguage } from '../../src/pastes/detectLanguage.js'

const options = { highlight: true, detectChars: 65536, maxLines: 50_000 }

/** The text a browser would show for one rendered line (tags dropped, entities decoded). */
function lineTexts(html: string): string[] {
  return [...html.matchAll(/<span class="lc">(.*?)<\/span><\/span>\n/g)].map((m) =>
    (m[1] ?? '').replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&'))
}

describe('splitLines', () => {
  it('gives every line its own anchor L1..Ln', () => {
    const html = splitLines('a\nb\nc', 100)
    expect([...html.matchAll(/id="L(\d+)"/g)].map((m) => m[1])).toEqual(['1', '2', '3'])
    expect(html).toContain('href="#L2"')
  })

  it('does not count the newline that ends the last line as another line', () => {
    expect(lineTexts(splitLines('a\nb\n', 100))).toEqual(['a', 'b'])
    expect(lineTexts(splitLines('a\n\n', 100))).toEqual(['a', ''])
  })

  it('closes a span at the end of a line and reopens it on the next', () => {
    const html = splitLines('<span class="hljs-comment">/* one\ntwo */</span> x', 100)
    const lines = html.split('\n').filter(Boolean)
    for (const line of lines) {
      expect(line.match(/<span/g)?.length).toBe(line.match(/<\/span>/g)?.length)
    }
    expect(lines[1]).toContain('<span class="hljs-comment">two */</span>')
  })

  it('drops the carriage return of CRLF line ends from the display only', () => {
    expect(lineTexts(splitLines('a\r\nb\r\n', 100))).toEqual(['a', 'b'])
  })

  it('falls back to one block without anchors beyond maxLines', () => {
    const html = splitLines('x\n'.repeat(10), 5)
    expect(html).not.toContain('id="L1"')
    expect(html).toContain('class="line plain"')
  })
})

describe('renderCode', () => {
  it('escapes HTML in plain text', () => {
    const { html, language } = renderCode('<script>alert("x")</script> & \'y\'', 'plaintext', options)
    expect(language).toBe('plaintext')
    expect(html).not.toContain('<script>')
    expect(lineTexts(html)).toEqual(['<script>alert("x")</script> & \'y\''])
  })

  it('highlights a known language and keeps the text exact', () => {
    const source = 'def f(x):\n    return "<b>" + x  # note\n'
    const { html } = renderCode(source, 'python', options)
    expect(html).toContain('hljs-keyword')
    expect(lineTexts(html).join('\n') + '\n').toBe(source)
  })

  it('shows large pastes as plain text when highlighting is off', () => {
    const { html, language } = renderCode('const a = 1\n', 'auto', { ...options, highlight: false })
    expect(language).toBe('plaintext')
    expect(html).not.toContain('hljs-')
  })

  it('escapes every character HTML treats specially', () => {
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;')
  })
})

describe('detectLanguage', () => {
  const cases: [string, string][] = [
    ['python', 'import os\n\ndef main():\n    for name in os.listdir("."):\n        print(name)\n\nif __name__ == "__main__":\n    main()\n'],
    ['javascript', "const fs = require('fs')\nmodule.exports = function read(p) {\n  return fs.readFileSync(p, 'utf8')\n}\nconsole.log(read('x'))\n"],
    ['typescript', 'interface User {\n  name: string\n  age: number\n}\nexport function greet(u: User): string {\n  return `hi ${u.name}`\n}\n'],
    ['go', 'package main\n\nimport "fmt"\n\nfunc main() {\n\tx := 1\n\tfmt.Println(x)\n}\n'],
    ['rust', 'use std::io;\n\nfn main() {\n    let mut s = String::new();\n    println!("{}", s);\n}\n'],
    ['json', '{"name": "redbin", "version": 1, "tags": ["a", "b"]}'],
    ['bash', '#!/bin/bash\nset -e\nfor f in *.txt; do\n  echo "$f"\ndone\n'],
    ['sql', 'SELECT id, name FROM users WHERE age > 30 ORDER BY name;\n'],
    ['html', '<!DOCTYPE html>\n<html><body><div class="x">hi</div></body></html>\n'],
    ['diff', 'diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-old\n+new\n'],
    ['plaintext', 'Dear team,\nthe meeting moves to Thursday.\nThanks!\n'],
  ]
  for (const [language, text] of cases) {
    it(`recognizes ${language}`, () => expect(detectLanguage(text)).toBe(language))
  }

  it('trusts a file name over the content', () => {
    expect(detectLanguage('print("hi")', 'hello.rb')).toBe('ruby')
    expect(detectLanguage('FROM node:22\nRUN npm ci\n', 'Dockerfile')).toBe('dockerfile')
  })
})
