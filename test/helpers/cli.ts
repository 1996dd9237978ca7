// Runs the command-line client as a user would: bin/redbin.js as its own process.
import { spawn } from 'node:child_process'
import { join } from 'node:path'

export const REDBIN_BIN = join(import.meta.dirname, '../../bin/redbin.js')

export interface CliRun { code: number | null; stdout: string; stderr: string }

/** Runs `redbin args…` with stdin from `input`, no terminal, and REDBIN_URL set to `server`. */
export function runRedbin(server: string, args: string[], options: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REDBIN_BIN, ...args], {
      env: { PATH: process.env.PATH, REDBIN_URL: server, ...options.env },
      // A new session: no controlling terminal, as in a script or CI.
      detached: true,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(options.input ?? '')
  })
}
