// The list of public pastes in a browser: 20 a page, newest first, filtered by language.
import type { Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { useSite } from './harness.js'

const site = useSite()

const PYTHON = Array.from({ length: 22 }, (_, i) => `python ${i + 1}`)
const GO = ['go 1', 'go 2', 'go 3']

const titles = (page: Page) => page.locator('.paste-list .paste-item-link').allTextContents()
/** The creation times on the page, in page order. */
const times = async (page: Page) =>
  (await page.evaluate<string[]>(`[...document.querySelectorAll('.paste-list time')].map((el) => el.getAttribute('datetime'))`)).map(Date.parse)
const newestFirst = (t: number[]) => t.every((time, i) => i === 0 || time <= (t[i - 1] ?? 0))

beforeAll(async () => {
  // 22 Python pastes and 3 Go ones (and one unlisted, which is never listed).
  await Promise.all([
    ...PYTHON.map((title, i) => site.createPaste({ content: `print(${i})\n`, title, language: 'python', visibility: 'public' })),
    ...GO.map((title, i) => site.createPaste({ content: `package main // ${i + 1}\n`, title, language: 'go', visibility: 'public' })),
    site.createPaste({ content: 'not listed\n', title: 'unlisted one', language: 'go' }),
  ])
})

describe('the list of public pastes', () => {
  it('shows 20 a page, newest first, and pages with Next and Previous', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/pastes`)
    expect(await page.locator('.list-head .muted').textContent()).toBe('25 public pastes')
    const first = await titles(page)
    const firstTimes = await times(page)
    expect(first).toHaveLength(20)
    expect(newestFirst(firstTimes)).toBe(true)
    expect(await page.locator('.pagination-status').textContent()).toBe('Page 1 of 2')
    expect(await page.locator('.pagination [rel="prev"]').count()).toBe(0)

    await page.click('.pagination [rel="next"]')
    await page.waitForURL(`${site.url}/pastes?page=2`)
    const second = await titles(page)
    expect(second).toHaveLength(5)
    expect(newestFirst([...firstTimes, ...(await times(page))])).toBe(true)
    expect([...first, ...second].sort()).toEqual([...PYTHON, ...GO].sort())
    expect(await page.locator('.pagination-status').textContent()).toBe('Page 2 of 2')
    expect(await page.locator('.pagination [rel="next"]').count()).toBe(0)

    await page.click('.pagination [rel="prev"]')
    await page.waitForURL(`${site.url}/pastes?page=1`)
    expect(await titles(page)).toEqual(first)
  })

  it('filters by language, and back to all', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/pastes`)
    await page.selectOption('#filter-language', 'go')
    // Choosing alone does not leave the page (arrow keys move through the options).
    expect(page.url()).toBe(`${site.url}/pastes`)
    await page.click('#filter-form button')
    await page.waitForURL(`${site.url}/pastes?language=go`)
    expect((await titles(page)).sort()).toEqual(GO)
    expect(await page.locator('.paste-list .lang-tag').allTextContents()).toEqual(['Go', 'Go', 'Go'])
    expect(await page.locator('.list-head .muted').textContent()).toBe('3 public pastes in Go')
    expect(await page.locator('.pagination').count()).toBe(0)

    await page.selectOption('#filter-language', '')
    await page.click('#filter-form button')
    await page.waitForURL(`${site.url}/pastes`)
    expect(await titles(page)).toHaveLength(20)
  })

  it('keeps the language while paging', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/pastes?language=python`)
    expect(await page.locator('.pagination-status').textContent()).toBe('Page 1 of 2')
    const first = await titles(page)
    await page.click('.pagination [rel="next"]')
    await page.waitForURL(`${site.url}/pastes?language=python&page=2`)
    const second = await titles(page)
    expect(second).toHaveLength(2)
    expect([...first, ...second].sort()).toEqual([...PYTHON].sort())
    expect(await page.inputValue('#filter-language')).toBe('python')
  })

  it('links each item to its paste', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/pastes?language=go`)
    await page.click('.paste-item-link:text-is("go 2")')
    await page.waitForURL(/\/[A-Za-z0-9_-]{10}$/)
    expect(await page.locator('#L1').textContent()).toBe('package main // 2')
  })
})
