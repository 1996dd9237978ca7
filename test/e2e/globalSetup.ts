// Finds (and, for the npm-packaged Chromium, unpacks) the browser once, before the test files
// start in parallel: each file then finds it ready instead of racing to unpack it. A failure
// here is left to the browser tests, which fail with its message; the rest of the suite runs.
import { findChromium } from './chromium.js'

export default async function setup(): Promise<void> {
  await findChromium().catch(() => {})
}
