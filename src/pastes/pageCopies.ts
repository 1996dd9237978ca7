/**
 * Copies of cached pages to compose a view into, carved from shared slabs as Node's Buffer pool
 * does for small buffers (it stops at 4 KB; a page is 10-30 KB). A Buffer of its own per view
 * cost a malloc, and the garbage collector's work of freeing it: 12% of a cached view's CPU
 * (createUnsafeBuffer and GC in the profile of the seed test). A slab is freed once no view
 * still holds a part of it.
 */
const SLAB_BYTES = 1024 * 1024
/** Larger pages get a Buffer of their own: a slab would hold too few. */
const MAX_SLICE_BYTES = SLAB_BYTES / 8

let slab = Buffer.allocUnsafeSlow(0)
let used = 0

export function pageCopy(page: Buffer): Buffer {
  const size = page.length
  if (size > MAX_SLICE_BYTES) {
    const own = Buffer.allocUnsafeSlow(size)
    page.copy(own)
    return own
  }
  if (used + size > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
    used = 0
  }
  const copy = slab.subarray(used, used + size)
  page.copy(copy)
  // Aligned to 8 bytes, as Node's pool aligns its slices.
  used += (size + 7) & ~7
  return copy
}
