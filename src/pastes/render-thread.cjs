// The render thread's entry point, in CommonJS on purpose. piscina loads a thread's file with
// require() before it tries import(), and on Node 20.19+ require() of an ES module links the
// module graph synchronously: a thread terminated at that instant (CodeRenderer.close() while
// the thread is still starting) aborts the whole process with "FATAL ERROR:
// v8::Module::IsGraphAsync ... must be used on an instantiated module". import() links
// asynchronously and ends quietly when the thread is terminated, so the code is loaded with it.
'use strict'

Object.defineProperty(exports, '__esModule', { value: true })

const thread = import('./code-worker.js')

/** @param {Parameters<typeof import('./code-worker.js').default>[0]} task */
exports.default = async (task) => (await thread).default(task)
/** @param {import('./diff.js').DiffTask} task */
exports.diffStats = async (task) => (await thread).diffStats(task)
/** @param {import('./diff.js').DiffTask} task */
exports.diffBytes = async (task) => (await thread).diffBytes(task)
