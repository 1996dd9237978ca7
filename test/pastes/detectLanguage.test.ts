// Language auto-detection: file names, shebangs and distinctive patterns of common languages.
import { describe, expect, it } from 'vitest'
import { detectLanguage } from '../../src/pastes/detectLanguage.js'
import { SNIPPETS } from './snippets.js'

describe('detectLanguage', () => {
  it.each(Object.entries(SNIPPETS))('recognises an obvious %s snippet', (language, text) => {
    expect(detectLanguage(text)).toBe(language)
  })

  it.each([
    ['#!/bin/sh\nls\n', 'bash'],
    ['#!/usr/bin/env python3\nx = 1\n', 'python'],
    ['#!/usr/bin/env node\nx = 1\n', 'javascript'],
    ['#!/usr/bin/ruby\nx = 1\n', 'ruby'],
  ])('trusts a shebang: %j is %s', (text, language) => {
    expect(detectLanguage(text)).toBe(language)
  })

  it.each([
    ['notes.py', 'python'], ['app.ts', 'typescript'], ['index.mjs', 'javascript'], ['Dockerfile', 'dockerfile'],
    ['Makefile', 'makefile'], ['config.yml', 'yaml'], ['dir/sub/main.rs', 'rust'], ['README.md', 'markdown'], ['notes.txt', 'plaintext'],
  ])('takes the language from a file name: %s is %s', (name, language) => {
    expect(detectLanguage('anything at all', name)).toBe(language)
  })

  it('prefers the file name over the content', () => {
    expect(detectLanguage(SNIPPETS.python ?? '', 'script.js')).toBe('javascript')
  })

  it('falls back to the content for an unknown extension or a title without one', () => {
    expect(detectLanguage(SNIPPETS.go ?? '', 'server.unknownext')).toBe('go')
    expect(detectLanguage(SNIPPETS.go ?? '', 'My server')).toBe('go')
  })

  it('calls prose, a list or a lone word plain text', () => {
    for (const text of ['Dear team, the meeting moved to Thursday.\nThanks!\n', '- milk\n- eggs\n', 'hello', '42']) {
      expect(detectLanguage(text), text).toBe('plaintext')
    }
  })

  it('does not call broken JSON json', () => {
    expect(detectLanguage('{ "a": 1, ')).not.toBe('json')
  })

  it('looks only at the start of a huge paste, and quickly', () => {
    const huge = (SNIPPETS.python ?? '') + 'x = 1\n'.repeat(500_000)
    const started = performance.now()
    expect(detectLanguage(huge)).toBe('python')
    expect(performance.now() - started).toBeLessThan(200)
  })
})
