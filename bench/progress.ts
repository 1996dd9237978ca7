// One status line on stderr while the bench runs: a bar on a terminal, plain lines otherwise
// (CI logs, docker compose), so that logs never fill with carriage returns.
const WIDTH = 24

class Progress {
  private readonly tty = process.stderr.isTTY === true
  private label = ''
  private total = 0
  private unit = 'seconds'
  private step = ''

  /** "[3/11]" before each phase. */
  setStep(index: number, count: number): void {
    this.step = `[${index}/${count}] `
  }

  phase(label: string, total: number, unit = 'seconds'): void {
    this.done()
    this.label = label
    this.total = total
    this.unit = unit
    if (!this.tty) process.stderr.write(`${this.step}${label}${unit ? ` (${total.toLocaleString('en-US')} ${unit})` : ''}…\n`)
    else this.update(0)
  }

  update(current: number, rate?: number, detail = ''): void {
    if (!this.tty || !this.label) return
    const fraction = this.total > 0 ? Math.min(1, current / this.total) : 0
    const filled = Math.round(fraction * WIDTH)
    const bar = `${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}`
    const shown = this.unit === '' ? '' : this.unit === 'seconds' ? `${current.toFixed(1)}/${this.total} s` : `${Math.round(current).toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} ${this.unit}`
    const speed = rate !== undefined ? `  ${Math.round(rate).toLocaleString('en-US')}/s` : ''
    const line = `${this.step}${this.label.padEnd(22)} ${bar} ${shown}${speed}${detail ? `  ${detail}` : ''}`
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`)
  }

  done(): void {
    if (this.tty && this.label) process.stderr.write('\r\x1b[2K')
    this.label = ''
  }

  /** A line that stays (a message between phases). */
  log(message: string): void {
    this.done()
    process.stderr.write(`${message}\n`)
  }
}

export const progress = new Progress()
