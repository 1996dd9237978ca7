// The model layer's Lua scripts. Each write is one script, so on a single Redis a record, its
// index entries, its memo and its unique claims change together or not at all.
//
// On Redis Cluster a record and its model's indexes live in different slots, which no script
// can span: a create or save is WRITE_INDEX then WRITE_RECORD, a delete INCR then DELETE then
// UNINDEX. Each script is still atomic on its shard; the sequence is not. Versions taken on the
// model's shard order the steps, so concurrent writes of an id end as that shard ordered them
// (see README.md, "On Redis Cluster").
//
// Scripts read the clock with TIME (Redis 7 replicates scripts by effects, so this is allowed)
// so that "expired" means the same thing here as it does to PEXPIREAT: expireAt < now.
import { createHash } from 'node:crypto'
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
-- On a cluster, stamp (epoch ms) records when, so that a dangling entry can be told from a write
-- still in progress, and version which write of the model this was (see WRITE_INDEX).
local function index(base, id, expire_at, index_at, n_index, unique_at, n_unique, stamp, version)
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
    memo[#memo + 1] = '~v'
    memo[#memo + 1] = version
  end
  if #memo > 0 then redis.call('HSET', base .. 'memo:' .. id, unpack(memo)) end
end

-- Replaces a record's hash and sets its expiry.
local function write_record(record_key, fields_at, n_fields, expire_at)
  redis.call('DEL', record_key)
  redis.call('HSET', record_key, unpack(ARGV, fields_at, fields_at + 2 * n_fields - 1))
  if expire_at ~= '' then redis.call('PEXPIREAT', record_key, expire_at) end
end

-- A save keeps the record's counters: values a legacy record still holds in its own hash move to
-- its counters hash (unless that has them) before the record is rewritten, and the counters
-- hash follows the record's new expiry (if it exists: PEXPIREAT and PERSIST do nothing otherwise).
-- ARGV from names_at: n counter names.
local function keep_counters(record_key, counters_key, expire_at, names_at, n)
  for i = names_at, names_at + n - 1 do
    local legacy = redis.call('HGET', record_key, ARGV[i])
    if legacy then redis.call('HSETNX', counters_key, ARGV[i], legacy) end
  end
  if expire_at ~= '' then redis.call('PEXPIREAT', counters_key, expire_at) else redis.call('PERSIST', counters_key) end
end

-- Cluster: whether a step with this version is older than what the record's shard has seen of
-- the id: the record's own version, or the tombstone a delete left. A stale step must not land.
-- A tombstone key equal to the record key means none (see ModelKeys.tombstone).
local function superseded(record_key, tombstone_key, version)
  local current = redis.call('HGET', record_key, '~v')
  if current and tonumber(current) > version then return true end
  if tombstone_key == record_key then return false end
  local deleted = redis.call('GET', tombstone_key)
  return deleted ~= false and tonumber(deleted) > version
end

-- An update's ARGV from pos: version column, expected version, max version ('' none), then the
-- history columns to snapshot, the fields to set and the fields to remove, each led by a count.
-- history_key is the snapshot's key, or the record's own key when the model keeps no history.
local function parse_update(pos, record_key, history_key)
  local u = { column = ARGV[pos], expected = tonumber(ARGV[pos + 1]), max = tonumber(ARGV[pos + 2]) }
  u.history = history_key ~= record_key and history_key or nil
  u.n_hist = tonumber(ARGV[pos + 3]); u.hist_at = pos + 4; pos = u.hist_at + u.n_hist
  u.n_fields = tonumber(ARGV[pos]); u.fields_at = pos + 1; pos = u.fields_at + 2 * u.n_fields
  u.n_unset = tonumber(ARGV[pos]); u.unset_at = pos + 1; pos = u.unset_at + u.n_unset
  return u, pos
end

-- Why an update cannot apply, or nil: no record, its version moved on, or it reached the limit.
-- A record written before the model had a version column counts as version 1.
local function update_refusal(record_key, u)
  if redis.call('EXISTS', record_key) == 0 then return {'missing'} end
  local current = tonumber(redis.call('HGET', record_key, u.column) or '1')
  if current ~= u.expected then return {'conflict', current} end
  if u.max and current >= u.max then return {'limit', current} end
  return nil
end

-- Copies the record's history columns into its history entry (which expires with the record),
-- then writes the changes and the next version. Returns that version.
local function apply_update(record_key, u)
  if u.history then
    local columns = {}
    for i = u.hist_at, u.hist_at + u.n_hist - 1 do columns[#columns + 1] = ARGV[i] end
    local values = redis.call('HMGET', record_key, unpack(columns))
    local snapshot = {}
    for i, column in ipairs(columns) do
      if values[i] then snapshot[#snapshot + 1] = column; snapshot[#snapshot + 1] = values[i] end
    end
    redis.call('DEL', u.history)
    redis.call('HSET', u.history, unpack(snapshot))
    local expire_at = redis.call('PEXPIRETIME', record_key)
    if expire_at > 0 then redis.call('PEXPIREAT', u.history, expire_at) end
  end
  if u.n_fields > 0 then redis.call('HSET', record_key, unpack(ARGV, u.fields_at, u.fields_at + 2 * u.n_fields - 1)) end
  if u.n_unset > 0 then redis.call('HDEL', record_key, unpack(ARGV, u.unset_at, u.unset_at + u.n_unset - 1)) end
  local version = u.expected + 1
  redis.call('HSET', record_key, u.column, version)
  return version
end
`

/**
 * Create or save one record, on a single Redis: record, indexes, memo and claims in one step.
 * A save keeps the record's counters (see keep_counters); a create never touches them.
 * KEYS: record, memo, expiry, counters (the record key: none to keep)
 * ARGV: base, id, mode ('create' | 'save'), expireAt (epoch ms, '' for none, 'keep'), sweepBatch,
 *       nFields, field, value, ...,  nIndex, suffix, score, ...,  nUnique, column, value, ...,
 *       nCounters, name, ...
 * Returns {'ok', existed} | {'duplicate'} | {'unique', column}
 */
const WRITE = `${LIBRARY}
local record_key, expiry_key, counters_key = KEYS[1], KEYS[3], KEYS[4]
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
if existed and counters_key ~= record_key then
  local counters_at = unique_at + 2 * n_unique
  keep_counters(record_key, counters_key, expire_at, counters_at + 1, tonumber(ARGV[counters_at]))
end
write_record(record_key, fields_at, n_fields, expire_at)
index(base, id, expire_at, index_at, n_index, unique_at, n_unique, nil)
return {'ok', existed and 1 or 0}
`

/**
 * Cluster, step 1 of a create or save: the index side, on the model's shard. The memo stands
 * for the record there: a record is never written before its memo (step 2 follows), and is
 * deleted before it, so "memo exists and has not expired" means "the record exists".
 *
 * Index steps of one model run one after another on its shard, so they define the order of
 * its writes: each takes the next version from the model's counter (KEYS[3]) and hands it to
 * step 2, which lands only if the record's shard has seen no later version of that id. Without
 * it, two concurrent saves of one id could reach the index in one order and the record in the
 * other, leaving the record in index entries of values it does not have.
 * KEYS: memo, expiry, version counter
 * ARGV: base, id, mode, expireAt ('' | ms | 'keep'), sweepBatch, nIndex, ..., nUnique, ...
 * Returns {'ok', existed, expireAt to give the record, version} | {'duplicate'} | {'unique', column}
 */
const WRITE_INDEX = `${LIBRARY}
local memo_key, expiry_key, version_key = KEYS[1], KEYS[2], KEYS[3]
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
local version = redis.call('INCR', version_key)
unindex(base, id)
index(base, id, expire_at, index_at, n_index, unique_at, n_unique, now, version)
return {'ok', existed and 1 or 0, expire_at, version}
`

/**
 * Cluster, step 2 of a create or save: the record, on its own shard, unless a later write or
 * delete of the id (a higher version from WRITE_INDEX) got there first. The record keeps its
 * version in the hash field ~v (column names cannot start with ~). A save keeps the record's
 * counters, which share its slot (see keep_counters).
 * KEYS: record, tombstone, counters (the record key: none to keep)
 * ARGV: expireAt ('' | ms), version, nCounters, name, ..., field, value, ...
 * Returns 1 when written, 0 when superseded.
 */
const WRITE_RECORD = `${LIBRARY}
if superseded(KEYS[1], KEYS[2], tonumber(ARGV[2])) then return 0 end
local n_counters = tonumber(ARGV[3])
local fields_at = 4 + n_counters
if KEYS[3] ~= KEYS[1] then keep_counters(KEYS[1], KEYS[3], ARGV[1], 4, n_counters) end
write_record(KEYS[1], fields_at, (#ARGV - fields_at + 1) / 2, ARGV[1])
redis.call('HSET', KEYS[1], '~v', ARGV[2])
return 1
`


/**
 * Update an existing record of a versioned model, on a single Redis: compare its version, keep
 * its history, change its fields, move its index entries, all in one step.
 * KEYS: record, memo, expiry, history entry (the record key when the model keeps no history)
 * ARGV: base, id, sweepBatch, versionColumn, expected, max ('' none), nHistory, column, ...,
 *       nFields, field, value, ...,  nUnset, field, ...,  nIndex, suffix, score, ...,  nUnique, column, value, ...
 * Returns {'ok', version} | {'missing'} | {'conflict', current} | {'limit', current} | {'unique', column}
 */
const UPDATE = `${LIBRARY}
local record_key, expiry_key = KEYS[1], KEYS[3]
local base, id = ARGV[1], ARGV[2]
local now = now_ms()
sweep(base, now, tonumber(ARGV[3]))
local u, pos = parse_update(4, record_key, KEYS[4])
local refusal = update_refusal(record_key, u)
if refusal then return refusal end
local index_at, n_index, unique_at, n_unique = entry_args(pos)
local conflict = claim_conflict(base, id, unique_at, n_unique, now)
if conflict then return {'unique', conflict} end
local version = apply_update(record_key, u)
local expire_at = redis.call('ZSCORE', expiry_key, id) or ''
unindex(base, id)
index(base, id, expire_at, index_at, n_index, unique_at, n_unique, nil)
return {'ok', version}
`

/**
 * Cluster, step 1 of an update: the record and its history entry, which share the record's hash
 * tag, so the version check, the snapshot and the new fields are still one atomic step.
 * KEYS: record, history entry (or the record key)
 * ARGV: versionColumn, expected, max, nHistory, ..., nFields, ..., nUnset, ...
 * Returns {'ok', version} | {'missing'} | {'conflict', current} | {'limit', current}
 */
const UPDATE_RECORD = `${LIBRARY}
local u = parse_update(1, KEYS[1], KEYS[2])
local refusal = update_refusal(KEYS[1], u)
if refusal then return refusal end
return {'ok', apply_update(KEYS[1], u)}
`

/**
 * Cluster, step 2 of an update: move the index entries on the model's shard, unless a later
 * update of the id already did (the memo keeps the version it indexed in ~c), or the id is no
 * longer indexed (a delete got there first: its step 3 removed the memo).
 * KEYS: memo, expiry
 * ARGV: base, id, version, sweepBatch, nIndex, ..., nUnique, ...
 * Returns 1 when it moved the entries, 0 when it had nothing to do.
 */
const UPDATE_INDEX = `${LIBRARY}
local memo_key, expiry_key = KEYS[1], KEYS[2]
local base, id, version = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
sweep(base, now, tonumber(ARGV[4]))
if redis.call('EXISTS', memo_key) == 0 then return 0 end
if tonumber(redis.call('HGET', memo_key, '~c') or '0') >= version then return 0 end
local write_version = redis.call('HGET', memo_key, '~v') or '0'
local expire_at = redis.call('ZSCORE', expiry_key, id) or ''
local index_at, n_index, unique_at, n_unique = entry_args(5)
unindex(base, id)
index(base, id, expire_at, index_at, n_index, unique_at, n_unique, now, write_version)
redis.call('HSET', memo_key, '~c', version)
return 1
`

/**
 * Delete one record, optionally returning it (load-and-delete, for read-once records). Its
 * counters hash goes with it (KEYS[2]; the record key when it has none), and a returned record
 * carries its counters after its own fields (they win over legacy values in the record).
 * On a single Redis, record and indexes go together (KEYS: record, counters, memo, expiry).
 *
 * On a cluster this is step 2 of 3 (KEYS: record, counters, tombstone; ARGV[1] is '' and nothing is
 * unindexed). Step 1 took a version from the model's counter; this step removes the record
 * unless a later write of the id already landed, and leaves a tombstone holding the version for
 * tombstoneMs, so that an earlier write still on its way cannot bring the record back. Step 3
 * (UNINDEX) removes the index entries; until then, readers can only meet a dangling entry.
 * A versioned model's history entries go with the record: they share its hash tag, so this
 * step deletes them on a cluster too.
 * ARGV: base ('' on a cluster), id, returning ('1' | '0'), sweepBatch, version ('' on a single
 *       Redis), tombstoneMs (''), historyPrefix ('' when none), versionColumn
 * Returns nil when there was no live record; else 1, or the record's HGETALL when returning.
 */
const DELETE = `${LIBRARY}
local record_key, counters_key = KEYS[1], KEYS[2]
local base, id = ARGV[1], ARGV[2]
if base ~= '' then sweep(base, now_ms(), tonumber(ARGV[4])) end
if base == '' then
  if superseded(record_key, KEYS[3], tonumber(ARGV[5])) then return false end
  if KEYS[3] ~= record_key then redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6]) end
end
local data = false
local counted = counters_key ~= record_key
if redis.call('EXISTS', record_key) == 1 then
  data = 1
  if ARGV[3] == '1' then
    data = redis.call('HGETALL', record_key)
    if counted then
      for _, v in ipairs(redis.call('HGETALL', counters_key)) do data[#data + 1] = v end
    end
  end
  if ARGV[7] ~= '' then
    local versions = tonumber(redis.call('HGET', record_key, ARGV[8]) or '1')
    for n = 1, versions - 1 do redis.call('DEL', ARGV[7] .. n) end
  end
  redis.call('DEL', record_key)
end
if counted then redis.call('DEL', counters_key) end
if base ~= '' then unindex(base, id) end
return data
`

/**
 * Cluster: remove ids from the indexes (step 3 of a delete), or repair dangling entries a
 * query met. A delete passes its version: entries indexed by a later write stay. A repair
 * passes a grace period instead: an id is left alone while its index entries are younger than
 * that, as its create may still be on its way to the record.
 * KEYS: expiry
 * ARGV: base, graceMs (0: none), sweepBatch, upToVersion ('': any), id, ...
 * Returns how many ids were unindexed.
 */
const UNINDEX = `${LIBRARY}
local base, grace, up_to = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
local now = now_ms()
sweep(base, now, tonumber(ARGV[3]))
local removed = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local memo_key = base .. 'memo:' .. id
  local written = redis.call('HGET', memo_key, '~written')
  local version = tonumber(redis.call('HGET', memo_key, '~v') or '0')
  local young = grace > 0 and written and tonumber(string.sub(written, 2)) >= now - grace
  local later = up_to and version > up_to
  if not young and not later then
    unindex(base, id)
    removed = removed + 1
  end
end
return removed
`

// Bumps counters of one record, only if it exists (never creates anything for a missing record).
// The counters live in their own hash, so this never writes the record's key: a client that
// tracks the record (CLIENT TRACKING) is not told it changed. A counter's first increment starts
// from the value a legacy record still holds in its own hash (written before the column was a
// counter; that field is left alone), else from its default. A counters hash this creates
// expires with its record.
// ARGV: n, then n counters as field, command ('HINCRBY' | 'HINCRBYFLOAT'), default; then each
// record's n amounts, from amounts_at ('' for a counter the record does not bump).
// Returns the bumped counters' new values in ARGV's order, or false when the record does not exist.
const INCREMENT_LIBRARY = `
local function increment_record(record_key, counters_key, n, amounts_at)
  if redis.call('EXISTS', record_key) == 0 then return false end
  local fresh = redis.call('EXISTS', counters_key) == 0
  local values = {}
  for j = 0, n - 1 do
    local by = ARGV[amounts_at + j]
    if by ~= '' then
      local field = ARGV[2 + 3 * j]
      if fresh or redis.call('HEXISTS', counters_key, field) == 0 then
        local start = redis.call('HGET', record_key, field) or ARGV[4 + 3 * j]
        if start ~= '0' then redis.call('HSET', counters_key, field, start) end
      end
      values[#values + 1] = redis.call(ARGV[3 + 3 * j], counters_key, field, by)
    end
  end
  if fresh then
    local expire_at = redis.call('PEXPIRETIME', record_key)
    if expire_at > 0 then redis.call('PEXPIREAT', counters_key, expire_at) end
  end
  return values
end
`

/**
 * Bump counters of one record (see INCREMENT_LIBRARY).
 * KEYS: record, counters
 * ARGV: n, field, command, default, ... (n times), then the n amounts
 * Returns the counters' new values, or nil when the record does not exist.
 */
const INCREMENT = `${INCREMENT_LIBRARY}
local n = tonumber(ARGV[1])
return increment_record(KEYS[1], KEYS[2], n, 2 + 3 * n)
`

/**
 * Bump counters of several records in one call (see INCREMENT_LIBRARY): each record as INCREMENT
 * would, in KEYS' order. On a cluster, one record per call: different records' keys are in
 * different slots.
 * KEYS: record1, counters1, record2, counters2, ...
 * ARGV: n, field, command, default, ... (n times), then n amounts per record, in KEYS' order
 * Returns per record its counters' new values, or nil when it does not exist.
 */
const INCREMENT_MANY = `${INCREMENT_LIBRARY}
local n = tonumber(ARGV[1])
local out = {}
for r = 1, #KEYS / 2 do
  out[r] = increment_record(KEYS[2 * r - 1], KEYS[2 * r], n, 2 + 3 * n + (r - 1) * n)
end
return out
`

/**
 * Change plain columns of a record, only if it exists (never recreates a deleted record) and,
 * when a version column is named, only if the record still has that version.
 * KEYS: record
 * ARGV: versionColumn ('' none), version, nSet, field, value, ..., then fields to remove
 * Returns 1 when changed, else 0.
 */
const PATCH = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return 0 end
if ARGV[1] ~= '' and tonumber(redis.call('HGET', key, ARGV[1]) or '1') ~= tonumber(ARGV[2]) then return 0 end
local unset_at = 4 + 2 * tonumber(ARGV[3])
if unset_at > 4 then redis.call('HSET', key, unpack(ARGV, 4, unset_at - 1)) end
if unset_at <= #ARGV then redis.call('HDEL', key, unpack(ARGV, unset_at)) end
return 1
`

/**
 * Answer a query from the indexes: filter groups (AND of ORs), order, offset, limit, count,
 * and (single Redis only) the selected fields of each record, all in one round trip.
 * KEYS: expiry, tmp
 * ARGV: base, fetch ('1' | '0'), wantCount ('1' | '0'), orderSuffix, orderIsDefault ('1' | '0'),
 *       rev ('1' | '0'), offset, limit (-1: no limit), nGroups, {n, suffix, ...} per group,
 *       then when fetching: recordPrefix, recordSuffix, countersSuffix, nCounters, counter, ...,
 *       field, ... (none: HGETALL). The counters named are read from each record's counters
 *       hash and win over the record's own (legacy) values; name none to leave that hash unread.
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

local record_prefix, record_suffix, counters_suffix = ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]
local n_counters = tonumber(ARGV[pos + 3])
local counters = {}
for i = 1, n_counters do counters[i] = ARGV[pos + 3 + i] end
local fields_at = pos + 4 + n_counters
local whole = fields_at > #ARGV
local position = {}
for i = fields_at, #ARGV do position[ARGV[i]] = i - fields_at + 1 end
local out = {}
for _, id in ipairs(ids) do
  local key = record_prefix .. id .. record_suffix
  local values
  if whole then
    values = redis.call('HGETALL', key)
  else
    values = redis.call('HMGET', key, unpack(ARGV, fields_at))
  end
  -- A record that is already gone leaves no empty row behind.
  if #values > 0 and values[1] then
    if n_counters > 0 then
      local side = redis.call('HMGET', key .. counters_suffix, unpack(counters))
      for i, name in ipairs(counters) do
        if side[i] then
          if whole then
            values[#values + 1] = name; values[#values + 1] = side[i]
          else
            values[position[name]] = side[i]
          end
        end
      end
    end
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

/** INCREMENT_MANY's SHA-1, as EVALSHA names it (what ioredis computes for its commands). */
export const INCREMENT_MANY_SHA = createHash('sha1').update(INCREMENT_MANY).digest('hex')

type Args = (string | number | Buffer)[]
declare module 'ioredis' {
  interface RedisCommander<Context> {
    redbinModelWrite(k1: string, k2: string, k3: string, k4: string, ...args: Args): Result<(string | number)[], Context>
    redbinModelWriteIndex(k1: string, k2: string, k3: string, ...args: Args): Result<(string | number)[], Context>
    redbinModelWriteRecord(k1: string, k2: string, k3: string, ...args: Args): Result<0 | 1, Context>
    redbinModelUpdate(k1: string, k2: string, k3: string, k4: string, ...args: Args): Result<(string | number)[], Context>
    redbinModelUpdateRecord(k1: string, k2: string, ...args: Args): Result<(string | number)[], Context>
    redbinModelUpdateIndex(k1: string, k2: string, ...args: Args): Result<0 | 1, Context>
    redbinModelDelete(k1: string, k2: string, k3: string, k4: string, ...args: Args): Result<1 | string[] | null, Context>
    redbinModelDeleteRecord(k1: string, k2: string, k3: string, ...args: Args): Result<1 | string[] | null, Context>
    // The same scripts with bulk replies as Buffers (ioredis defines them with every command),
    // for models with bytes columns.
    redbinModelDeleteBuffer(k1: string, k2: string, k3: string, k4: string, ...args: Args): Result<1 | Buffer[] | null, Context>
    redbinModelDeleteRecordBuffer(k1: string, k2: string, k3: string, ...args: Args): Result<1 | Buffer[] | null, Context>
    redbinModelQueryBuffer(k1: string, k2: string, ...args: Args): Result<[number, unknown[]], Context>
    redbinModelUnindex(k1: string, ...args: Args): Result<number, Context>
    redbinModelIncrement(k1: string, k2: string, ...args: Args): Result<(number | string)[] | null, Context>
    // The number of keys comes first: two per record.
    redbinModelIncrementMany(numberOfKeys: number, ...keysAndArgs: Args): Result<((number | string)[] | null)[], Context>
    // Its reply as the parser reads it: ioredis copies no nested array to turn Buffers into strings.
    redbinModelIncrementManyBuffer(numberOfKeys: number, ...keysAndArgs: Args): Result<((number | Buffer)[] | null)[], Context>
    redbinModelPatch(k1: string, ...args: Args): Result<0 | 1, Context>
    redbinModelQuery(k1: string, k2: string, ...args: Args): Result<[number, unknown[]], Context>
    redbinModelSweep(k1: string, ...args: Args): Result<number, Context>
  }
}

const COMMANDS = {
  redbinModelWrite: { numberOfKeys: 4, lua: WRITE },
  redbinModelDelete: { numberOfKeys: 4, lua: DELETE },
  redbinModelDeleteRecord: { numberOfKeys: 3, lua: DELETE },
  redbinModelWriteIndex: { numberOfKeys: 3, lua: WRITE_INDEX },
  redbinModelWriteRecord: { numberOfKeys: 3, lua: WRITE_RECORD },
  redbinModelUpdate: { numberOfKeys: 4, lua: UPDATE },
  redbinModelUpdateRecord: { numberOfKeys: 2, lua: UPDATE_RECORD },
  redbinModelUpdateIndex: { numberOfKeys: 2, lua: UPDATE_INDEX },
  redbinModelUnindex: { numberOfKeys: 1, lua: UNINDEX },
  redbinModelIncrement: { numberOfKeys: 2, lua: INCREMENT },
  redbinModelIncrementMany: { lua: INCREMENT_MANY },
  redbinModelPatch: { numberOfKeys: 1, lua: PATCH },
  redbinModelQuery: { numberOfKeys: 2, lua: QUERY },
  redbinModelSweep: { numberOfKeys: 1, lua: SWEEP },
} as const

/** Registers the scripts on a client once (EVALSHA, falling back to EVAL after a SCRIPT FLUSH). */
export function defineModelCommands(redis: Redis | Cluster): void {
  if (typeof (redis as Partial<Redis>).redbinModelWrite === 'function') return
  for (const [name, definition] of Object.entries(COMMANDS)) redis.defineCommand(name, definition)
}
