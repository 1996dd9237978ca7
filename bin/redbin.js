#!/usr/bin/env node
// `redbin`, the command-line client (src/cli/redbin.ts). In a checkout it runs the TypeScript
// source through tsx, which `npm ci` installs; where there is no source (the Docker image, an
// `npm ci --omit=dev` install) it runs the compiled dist/cli/redbin.js.
import { existsSync } from 'node:fs'

const source = new URL('../src/cli/redbin.ts', import.meta.url)
let entry = new URL('../dist/cli/redbin.js', import.meta.url)
if (existsSync(source)) {
  try {
    const { register } = await import('tsx/esm/api')
    register()
    entry = source
  } catch {
    // No tsx (production dependencies only): the compiled client, if built.
  }
}
if (!existsSync(entry)) {
  process.stderr.write('redbin: the client is not built: run `npm ci` (or `npm run build`) first.\n')
  process.exit(1)
}
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2), { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
