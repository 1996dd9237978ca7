// The model layer's Lua scripts. Each write is one script, so on a single Redis a record, its
// index entries, its memo and its unique claims change together or not at all.
//
// Scripts read the clock with TIME (Redis 7 replicates scripts by effects, so this is allowed)
// so that "expired" means the same thing here as it does to PEXPIREAT: expireAt < now.
import type { Cluster, Redis, Result } from 'ioredis'

const LIBRARY = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Removes id from every index key and unique claim its memo lists, then the memo itself.
local function unindex(base, id)
  local memo_key = base .. 'memo:' .. id
  local memo = redis.call('HGETALL', memo_key)
  for i = 1, #memo, 2 do
    local key, kind = memo[i], memo[i + 1]
    if kind == 'z' then
      redis.call('ZREM', key, id)
    elseif string.sub(kind, 1, 1) == 'u' then
      local value = string.sub(kind, 2)
      if redis.call('HGET', key, value) == id then redis.call('HDEL', key, value) end
    end
  end
  redis.call('DEL', memo_key)
  redis.call('ZREM', base .. 'expiry', id)
end

-- Unindexes at most batch expired ids; returns how many.
local function sweep(base, now, batch)
  local ids = redis.call('ZRANGEBYSCORE', base .. 'expiry', '-inf', '(' .. now, 'LIMIT', 0, batch)
  for _, id in ipairs(ids) do unindex(base, id) end
  return #ids
end

-- Where the index entries and unique claims start in ARGV, given where their counts are.
local function entry_args(pos)
  local n_index = tonumber(ARGV[pos]); local index_at = pos + 1; pos = index_at + 2 * n_index
  local n_unique = tonumber(ARGV[pos])
  return index_at, n_index, pos + 1, n_unique
end

-- The column of the first unique value that another live record holds, or nil.
-- Called before anything changes: a Lua error does not roll back.
local function claim_conflict(base, id, unique_at, n_unique, now)
  for i = unique_at, unique_at + 2 * n_unique - 1, 2 do
    local owner = redis.call('HGET', base .. 'uniq:' .. ARGV[i], ARGV[i + 1])
    if owner and owner ~= id then
      local owner_expiry = redis.call('ZSCORE', base .. 'expiry', owner)
      if owner_expiry and tonumber(owner_expiry) < now then
        unindex(base, owner) -- an expired record no longer holds its claims
      else
        return ARGV[i]
      end
    end
  end
  return nil
end

-- Puts id into its index keys, unique claims and expiry set, with a memo listing them all.
-- stamp (epoch ms, or nil) records when, so that a dangling entry can be told from a write
-- still in progress on a cluster.
local function index(base, id, expire_at, index_at, n_index, unique_at, n_unique, stamp)
  if expire_at ~= '' then redis.call('ZADD', base .. 'expiry', expire_at, id) end
  local memo = {}
  for i = index_at, index_at + 2 * n_index - 1, 2 do
    local key = base .. ARGV[i]
    redis.call('ZADD', key, ARGV[i + 1], id)
    memo[#memo + 1] = key
    memo[#memo + 1] = 'z'
  end
  for i = unique_at, unique_at + 2 * n_unique - 1, 2 do
    local key = base .. 'uniq:' .. ARGV[i]
    redis.call('HSET', key, ARGV[i + 1], id)
    memo[#memo + 1] = key
    memo[#memo + 1] = 'u' .. ARGV[i + 1]
  end
  if stamp then
    memo[#memo + 1] = '~written'
    memo[#memo + 1] = 't' .. stamp
  end
  if #memo > 0 then redis.call('HSET', base .. 'memo:' .. id, unpack(memo)) end
end

-- Replaces a record's hash and sets its expiry.
local function write_record(record_key, fields_at, n_fields, expire_at)
  redis.call('DEL', record_key)
  redis.call('HSET', record_key, unpack(ARGV, fields_at, fields_at + 2 * n_fields - 1))
  if expire_at ~= '' then redis.call('PEXPIREAT', record_key, expire_at) end
end
`

/**
 * Create or save one record, on a single Redis: record, indexes, memo and claims in one step.
 * KEYS: record, memo, expiry
 * ARGV: base, id, mode ('create' | 'save'), expireAt (epoch ms, '' for none, 'keep'), sweepBatch,
 *       nFields, field, value, ...,  nIndex, suffix, score, ...,  nUnique, column, value, ...
 * Returns {'ok', existed} | {'duplicate'} | {'unique', column}
 */
const WRITE = `${LIBRARY}
local record_key, expiry_key = KEYS[1], KEYS[3]
local base, id, mode, expire_at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = now_ms()
sweep(base, now, tonumber(ARGV[5]))

local existed = redis.call('EXISTS', record_key) == 1
if mode == 'create' and existed then return {'duplicate'} end
local n_fields = tonumber(ARGV[6])
local fields_at = 7
local index_at, n_index, unique_at, n_unique = entry_args(fields_at + 2 * n_fields)
local conflict = claim_conflict(base, id, unique_at, n_unique, now)
if conflict then return {'unique', conflict} end

if expire_at == 'keep' then
  expire_at = (existed and redis.call('ZSCORE', expiry_key, id)) or ''
end
unindex(base, id)
write_record(record_key, fields_at, n_fields, expire_at)
index(base, id, expire_at, index_at, n_index, unique_at, n_unique, nil)
return {'ok', existed and 1 or 0}
`

/**
 * Cluster, step 1 of a create or save: the index side, on the model's shard. The memo stands
 * for the record there: a record is never written before its memo (step 2 follows), and is
 * deleted before it, so "memo exists and has not expired" means "the record exists".
 * KEYS: memo, expiry
 * ARGV: base, id, mode, expireAt ('' | ms | 'keep'), sweepBatch, nIndex, ..., nUnique, ...
 * Returns {'ok', existed, expireAt to give the record} | {'duplicate'} | {'unique', column}
 */
const WRITE_INDEX = `${LIBRARY}
local memo_key, expiry_key = KEYS[1], KEYS[2]
local base, id, mode, expire_at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = now_ms()
sweep(base, now, tonumber(ARGV[5]))

local expiry = redis.call('ZSCORE', expiry_key, id)
local existed = redis.call('EXISTS', memo_key) == 1 and not (expiry and tonumber(expiry) < now)
if mode == 'create' and existed then return {'duplicate'} end
local index_at, n_index, unique_at, n_unique = entry_args(6)
local conflict = claim_conflict(base, id, unique_at, n_unique, now)
if conflict then return {'unique', conflict} end

if expire_at == 'keep' then expire_at = (existed and expiry) or '' end
unindex(base, id)
index(base, id, expire_at, index_at, n_index, unique_at, n_unique, now)
return {'ok', existed and 1 or 0, expire_at}
`

/**
 * Cluster, step 2 of a create or save: the record, on its own shard.
 * KEYS: record
 * ARGV: expireAt ('' | ms), field, value, ...
 */
const WRITE_RECORD = `${LIBRARY}
write_record(KEYS[1], 2, (#ARGV - 1) / 2, ARGV[1])
return 1
`

/**
 * Delete one record, optionally returning it (load-and-delete, for read-once records).
 * On a single Redis, record and indexes go together. On a cluster this is step 1 (KEYS holds
 * the record only, ARGV[1] is '' and nothing is unindexed): the record goes first, so readers
 * can only meet a dangling index entry until UNINDEX (step 2) runs.
 * KEYS: record[, memo, expiry]
 * ARGV: base ('' on a cluster), id, returning ('1' | '0'), sweepBatch
 * Returns nil when there was no live record; else 1, or the record's HGETALL when returning.
 */
const DELETE = `${LIBRARY}
local record_key = KEYS[1]
local base, id = ARGV[1], ARGV[2]
if base ~= '' then sweep(base, now_ms(), tonumber(ARGV[4])) end
local data = false
if redis.call('EXISTS', record_key) == 1 then
  data = 1
  if ARGV[3] == '1' then data = redis.call('HGETALL', record_key) end
  redis.call('DEL', record_key)
end
if base ~= '' then unindex(base, id) end
return data
`

/**
 * Cluster: remove ids from the indexes (step 2 of a delete), or repair dangling entries a
 * query met. With a grace period, an id is left alone while its index entries are younger
 * than that: its create may still be writing the record.
 * KEYS: expiry
 * ARGV: base, graceMs (0: unconditionally), sweepBatch, id, ...
 * Returns how many ids were unindexed.
 */
const UNINDEX = `${LIBRARY}
local base, grace = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
sweep(base, now, tonumber(ARGV[3]))
local removed = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local written = redis.call('HGET', base .. 'memo:' .. id, '~written')
  if grace == 0 or not written or tonumber(string.sub(written, 2)) < now - grace then
    unindex(base, id)
    removed = removed + 1
  end
end
return removed
`

/**
 * Load chosen fields of one record and bump counters in it, only if it exists.
 * KEYS: record
 * ARGV: nIncrements, field, by, command ('HINCRBY' | 'HINCRBYFLOAT'), ...,
 *       then the fields to return (none: all, as HGETALL)
 * Returns nil when the record does not exist.
 */
const LOAD = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return false end
local fields_at = 2 + 3 * tonumber(ARGV[1])
for i = 2, fields_at - 1, 3 do redis.call(ARGV[i + 2], key, ARGV[i], ARGV[i + 1]) end
if fields_at > #ARGV then return redis.call('HGETALL', key) end
return redis.call('HMGET', key, unpack(ARGV, fields_at))
`

/**
 * Change plain columns of a record, only if it exists (never recreates a deleted record).
 * KEYS: record
 * ARGV: nSet, field, value, ..., then fields to remove
 * Returns 1 when the record existed, else 0.
 */
const PATCH = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return 0 end
local unset_at = 2 + 2 * tonumber(ARGV[1])
if unset_at > 2 then redis.call('HSET', key, unpack(ARGV, 2, unset_at - 1)) end
if unset_at <= #ARGV then redis.call('HDEL', key, unpack(ARGV, unset_at)) end
return 1
`

/**
 * Answer a query from the indexes: filter groups (AND of ORs), order, offset, limit, count,
 * and (single Redis only) the selected fields of each record, all in one round trip.
 * KEYS: expiry, tmp
 * ARGV: base, fetch ('1' | '0'), wantCount ('1' | '0'), orderSuffix, orderIsDefault ('1' | '0'),
 *       rev ('1' | '0'), offset, limit (-1: no limit), nGroups, {n, suffix, ...} per group,
 *       then when fetching: recordPrefix, recordSuffix, field, ... (none: HGETALL)
 * Returns {total (-1 when not asked), ids} or, when fetching, {total, {id, values, id, values, ...}}.
 *
 * Cost: one filter value (or none) in the default order is O(log N + k) straight off its
 * sorted set. Several values of a column, several columns without a composite index, or a
 * non-default order build a scratch set first: O(size of the sets involved).
 * Expired ids that the sweeper has not removed yet are skipped exactly, at O(log N) each.
 */
const QUERY = `
local expiry_key, tmp = KEYS[1], KEYS[2]
local base, fetch, want_count = ARGV[1], ARGV[2] == '1', ARGV[3] == '1'
local order_key, order_is_default, rev = base .. ARGV[4], ARGV[5] == '1', ARGV[6] == '1'
local offset, limit = tonumber(ARGV[7]), tonumber(ARGV[8])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', expiry_key, '-inf', '(' .. now)
local is_expired = {}
for _, id in ipairs(expired) do is_expired[id] = true end

local pos = 10
local groups = {}
for g = 1, tonumber(ARGV[9]) do
  local n = tonumber(ARGV[pos]); pos = pos + 1
  local keys = {}
  for i = 1, n do keys[i] = base .. ARGV[pos]; pos = pos + 1 end
  groups[g] = keys
end

local function zrange(key, start, stop)
  if rev then return redis.call('ZRANGE', key, start, stop, 'REV') end
  return redis.call('ZRANGE', key, start, stop)
end

local src, direct, scratch = order_key, true, {}
if #groups == 1 and #groups[1] == 1 and order_is_default then
  src = groups[1][1]
elseif #groups > 0 then
  local sets = {}
  for g, keys in ipairs(groups) do
    if #keys == 1 then
      sets[#sets + 1] = keys[1]
    else
      local union = tmp .. ':' .. g
      redis.call('ZUNIONSTORE', union, #keys, unpack(keys))
      scratch[#scratch + 1] = union
      sets[#sets + 1] = union
    end
  end
  -- The result must keep the order column's score. Weighting filter sets by 0 is not enough:
  -- Redis makes 0 * -inf (a record without a value) NaN and a NaN sum 0, which would move such
  -- records from first to the middle. Every equality index is scored by the default order, so
  -- all filter sets agree on each id's score and MIN keeps it; for another order the filters
  -- are intersected at weight 0 (every score becomes exactly 0), then summed with the order set.
  local args = {tmp, #sets}
  for _, s in ipairs(sets) do args[#args + 1] = s end
  if order_is_default then
    args[#args + 1] = 'AGGREGATE'; args[#args + 1] = 'MIN'
    redis.call('ZINTERSTORE', unpack(args))
  else
    args[#args + 1] = 'WEIGHTS'
    for _ = 1, #sets do args[#args + 1] = 0 end
    redis.call('ZINTERSTORE', unpack(args))
    redis.call('ZINTERSTORE', tmp, 2, tmp, order_key)
  end
  for i = 1, #expired, 500 do
    redis.call('ZREM', tmp, unpack(expired, i, math.min(i + 499, #expired)))
  end
  src, direct = tmp, false
  scratch[#scratch + 1] = tmp
end

local total = -1
if want_count then
  total = redis.call('ZCARD', src)
  if direct then
    for _, id in ipairs(expired) do
      if redis.call('ZSCORE', src, id) then total = total - 1 end
    end
  end
end

local ids = {}
if limit ~= 0 then
  local ranks = {}
  if direct then
    for _, id in ipairs(expired) do
      local r = redis.call(rev and 'ZREVRANK' or 'ZRANK', src, id)
      if r then ranks[#ranks + 1] = r end
    end
    table.sort(ranks)
  end
  -- The live record at position offset sits at rank s = offset + (expired ranks <= s).
  local s = offset
  while true do
    local c = 0
    for _, r in ipairs(ranks) do if r <= s then c = c + 1 else break end end
    if offset + c == s then break end
    s = offset + c
  end
  local stop = -1
  if limit > 0 then stop = s + limit + #ranks - 1 end
  for _, id in ipairs(zrange(src, s, stop)) do
    if not is_expired[id] then
      ids[#ids + 1] = id
      if #ids == limit then break end
    end
  end
end
if #scratch > 0 then redis.call('DEL', unpack(scratch)) end
if not fetch then return {total, ids} end

local record_prefix, record_suffix = ARGV[pos], ARGV[pos + 1]
local fields_at = pos + 2
local out = {}
for _, id in ipairs(ids) do
  local key = record_prefix .. id .. record_suffix
  local values
  if fields_at > #ARGV then
    values = redis.call('HGETALL', key)
  else
    values = redis.call('HMGET', key, unpack(ARGV, fields_at))
  end
  -- A record that is already gone leaves no empty row behind.
  if #values > 0 and values[1] then
    out[#out + 1] = id
    out[#out + 1] = values
  end
end
return {total, out}
`

/**
 * Unindex up to batch expired records.
 * KEYS: expiry
 * ARGV: base, batch
 */
const SWEEP = `${LIBRARY}
return sweep(ARGV[1], now_ms(), tonumber(ARGV[2]))
`

type Args = (string | number)[]
declare module 'ioredis' {
  interface RedisCommander<Context> {
    redbinModelWrite(k1: string, k2: string, k3: string, ...args: Args): Result<(string | number)[], Context>
    redbinModelWriteIndex(k1: string, k2: string, ...args: Args): Result<(string | number)[], Context>
    redbinModelWriteRecord(k1: string, ...args: Args): Result<1, Context>
    redbinModelDelete(k1: string, k2: string, k3: string, ...args: Args): Result<1 | string[] | null, Context>
    redbinModelDeleteRecord(k1: string, ...args: Args): Result<1 | string[] | null, Context>
    redbinModelUnindex(k1: string, ...args: Args): Result<number, Context>
    redbinModelLoad(k1: string, ...args: Args): Result<(string | null)[] | null, Context>
    redbinModelPatch(k1: string, ...args: Args): Result<0 | 1, Context>
    redbinModelQuery(k1: string, k2: string, ...args: Args): Result<[number, unknown[]], Context>
    redbinModelSweep(k1: string, ...args: Args): Result<number, Context>
  }
}

const COMMANDS = {
  redbinModelWrite: { numberOfKeys: 3, lua: WRITE },
  redbinModelDelete: { numberOfKeys: 3, lua: DELETE },
  redbinModelDeleteRecord: { numberOfKeys: 1, lua: DELETE },
  redbinModelWriteIndex: { numberOfKeys: 2, lua: WRITE_INDEX },
  redbinModelWriteRecord: { numberOfKeys: 1, lua: WRITE_RECORD },
  redbinModelUnindex: { numberOfKeys: 1, lua: UNINDEX },
  redbinModelLoad: { numberOfKeys: 1, lua: LOAD },
  redbinModelPatch: { numberOfKeys: 1, lua: PATCH },
  redbinModelQuery: { numberOfKeys: 2, lua: QUERY },
  redbinModelSweep: { numberOfKeys: 1, lua: SWEEP },
} as const

/** Registers the scripts on a client once (EVALSHA, falling back to EVAL after a SCRIPT FLUSH). */
export function defineModelCommands(redis: Redis | Cluster): void {
  if (typeof (redis as Partial<Redis>).redbinModelWrite === 'function') return
  for (const [name, definition] of Object.entries(COMMANDS)) redis.defineCommand(name, definition)
}
