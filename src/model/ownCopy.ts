/**
 * Short-lived copies of cached Buffers, carved from shared 1 MiB slabs as Node's Buffer pool does
 * for small buffers (its pool stops at 4 KB; a paste page is 10-30 KB). A Buffer of its own per
 * copy is a malloc and, later, the garbage collector's work of freeing it: in alternating runs of
 * 5 connections on one cached page, slab copies cost 122-128 µs of server CPU per view, own
 * Buffers 146-167 µs. A slab is freed once no copy still holds a part of it.
 */
const SLAB_BYTES = 1024 * 1024
/** Larger values get a Buffer of their own: a slab would hold too few. */
const MAX_SLICE_BYTES = SLAB_BYTES / 8

let slab = Buffer.allocUnsafeSlow(0)
let used = 0

export function ownCopy(value: Buffer): Buffer {
  const size = value.length
  if (size > MAX_SLICE_BYTES) {
    const own = Buffer.allocUnsafeSlow(size)
    value.copy(own)
    return own
  }
  if (used + size > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
    used = 0
  }
  const copy = slab.subarray(used, used + size)
  value.copy(copy)
  // Aligned to 8 bytes, as Node's pool aligns its slices.
  used += (size + 7) & ~7
  return copy
}
