// `npm run test:cluster`: the model and pastebin suites against a local 3-master Redis Cluster
// (started once by test/cluster/globalSetup.ts), plus the cluster's own tests.
import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/model/**/*.test.ts', 'test/pastes/**/*.test.ts', 'test/routes/**/*.test.ts', 'test/cluster/**/*.test.ts'],
    exclude: [
      // Stops and restarts "the" Redis: there is no single server to stop on a cluster. The
      // cluster's own outage test is test/cluster/failover.test.ts.
      'test/routes/outage.test.ts',
    ],
    globalSetup: ['test/cluster/globalSetup.ts'],
  },
})
