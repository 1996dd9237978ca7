// The code block: highlighted or escaped text, split into one anchored element per line.
import { describe, expect, it } from 'vitest'
import { escapeHtml, renderCode, splitLines } from '../../src/pastes/code.js'

const OPTIONS = { highlight: true, detectChars: 64 * 1024, maxLines: 50_000 }

/** The text of each rendered line, tags removed and entities decoded. */
function lineTexts(html: string): string[] {
  return [...html.matchAll(/<span id="L\d+"><a [^>]*><\/a>([\s\S]*?)<\/span>\n/g)].map((m) =>
    (m[1] ?? '').replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&'))
}

describe('escapeHtml', () => {
  it('escapes the five HTML specials', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;')
  })
})

describe('splitLines', () => {
  it('gives each line an anchor L1…Ln and drops the final empty line', () => {
    const html = splitLines('a\nb\nc\n', 100)
    expect([...html.matchAll(/id="L(\d+)"/g)].map((m) => m[1])).toEqual(['1', '2', '3'])
    expect(html).toContain('href="#L2"')
  })

  it('keeps empty lines in the middle and at the end of a paste', () => {
    expect(lineTexts(splitLines('a\n\n\nb\n\n', 100))).toEqual(['a', '', '', 'b', ''])
  })

  it('drops the CR of CRLF from the display (the raw view keeps it)', () => {
    expect(lineTexts(splitLines('a\r\nb\r\n', 100))).toEqual(['a', 'b'])
  })

  it('closes spans at each line end and reopens them on the next line', () => {
    const html = splitLines('<span class="hljs-comment">/* one\ntwo */</span> x', 100)
    const [first, second] = html.split('\n')
    expect(first).toContain('<span class="hljs-comment">/* one</span>')
    expect(second).toBe('<span id="L2"><a href="#L2" aria-hidden="true" tabindex="-1"></a><span class="hljs-comment">two */</span> x</span>')
    // Balanced on every line.
    for (const line of html.split('\n')) {
      expect((line.match(/<span\b/g) ?? []).length).toBe((line.match(/<\/span>/g) ?? []).length)
    }
  })

  it('gives up per-line markup beyond maxLines', () => {
    const html = splitLines('a\nb\nc\n', 2)
    expect(html).not.toContain('id="L1"')
    expect(html).toContain('a\nb\nc')
  })
})

describe('renderCode', () => {
  it('highlights a known language with hljs spans and keeps the text', () => {
    const text = 'def f(x):\n    return "<b>" + x\n'
    const { language, html } = renderCode(text, 'python', OPTIONS)
    expect(language).toBe('python')
    expect(html).toMatch(/<span class="hljs-keyword">def<\/span>/)
    expect(html).not.toContain('<b>')
    expect(lineTexts(html)).toEqual(['def f(x):', '    return "<b>" + x'])
  })

  it('escapes plain text without any hljs spans', () => {
    const { language, html } = renderCode('<script>alert(1)</script>', 'plaintext', OPTIONS)
    expect(language).toBe('plaintext')
    expect(html).not.toContain('hljs-')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
  })

  it('renders plain text, escaped, when highlighting is off (large pastes)', () => {
    const { language, html } = renderCode('const a = "<x>"\n', 'auto', { ...OPTIONS, highlight: false })
    expect(language).toBe('plaintext')
    expect(html).not.toContain('hljs-')
    expect(html).toContain('&lt;x&gt;')
  })

  it('keeps every line of the source, whatever the highlighter does with it', () => {
    const text = 'fn main() {\n    let s = "multi\nline string";\n    /* a\n       comment */\n}\n'
    expect(lineTexts(renderCode(text, 'rust', OPTIONS).html)).toEqual(text.replace(/\n$/, '').split('\n'))
  })
})
