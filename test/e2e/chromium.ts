// Debian's Chromium and the flags every automated run gives it: the e2e tests (playwright-core)
// and `npm run audit` (Lighthouse) both use these. A browser is never downloaded.
export const CHROMIUM_PATH = '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
]

export const MISSING_CHROMIUM =
  `Debian's Chromium is missing at ${CHROMIUM_PATH}. Install it with ` +
  '`apt-get update && apt-get install -y chromium` (nothing here ever downloads a browser).'
