// `npm run test:cluster`: one local 3-master Redis Cluster for the whole run. Test files find it
// through REDIS_CLUSTER_NODES (test/helpers/redis.ts), each under a key prefix of its own.
// With REDIS_CLUSTER_NODES already set, that cluster is used as it is and nothing is started.
import { LocalCluster } from '../helpers/cluster.js'

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.REDIS_CLUSTER_NODES) return undefined
  const cluster = await LocalCluster.start(3)
  process.env.REDIS_CLUSTER_NODES = cluster.nodesEnv
  return async () => {
    delete process.env.REDIS_CLUSTER_NODES
    await cluster.stop()
  }
}
