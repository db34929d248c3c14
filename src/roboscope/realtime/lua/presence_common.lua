-- Shared by the presence scripts (prepended to each by roboscope.realtime.scripts).
--
-- KEYS[1] devices  ZSET  cjson([user_id, device_id]) -> expiry (ms, server time)
-- KEYS[2] users    HASH  user_id -> cjson({j = joined us (text), s = last beat ms,
--                                          v = {device_id = expiry ms}})
-- KEYS[3] profiles HASH  user_id -> JSON {display_name, meta} from the latest beat (opaque here)
-- KEYS[4] present  ZSET  user_id -> expiry of the user's latest device (ms): counts users
-- KEYS[5] the presence due set: this session -> its earliest device expiry (due_common.lua)
-- ARGV[1] the most expired devices one call removes (the prune batch)
--
-- Expiry uses Redis server time so every API process agrees on who is present. Pruning is
-- bounded: one call removes at most ARGV[1] expired devices, so no script runs long however
-- many devices expired at once; the rest go in the next calls. Until then they are still
-- stored but never counted (counts use ZCOUNT above now) and never listed (the caller drops
-- what expired by `now`).
local devices_key, users_key, profiles_key, present_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local due_key = KEYS[5]
local prune_batch = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- Join instants order the user list; microseconds as text (exact, unlike cjson's 14 digits).
local now_us_text = clock[1] .. string.format('%06d', tonumber(clock[2]))
local after_now = '(' .. string.format('%.0f', now)

local function load_state(user)
  local raw = redis.call('HGET', users_key, user)
  if raw then
    return cjson.decode(raw)
  end
  return nil
end

-- Write a user's state back; a user with no device left is gone.
local function store_state(user, state)
  local latest = nil
  for _, expiry in pairs(state.v) do
    if latest == nil or expiry > latest then
      latest = expiry
    end
  end
  if latest == nil then
    redis.call('HDEL', users_key, user)
    redis.call('HDEL', profiles_key, user)
    redis.call('ZREM', present_key, user)
  else
    redis.call('HSET', users_key, user, cjson.encode(state))
    redis.call('ZADD', present_key, latest, user)
  end
end

-- Drop expired devices, at most one batch of them, announcing each (presence.left, reason
-- expired); returns true when something changed.
local function prune()
  local expired = redis.call('ZRANGEBYSCORE', devices_key, '-inf', now, 'LIMIT', 0, prune_batch)
  if #expired == 0 then
    return false
  end
  local touched = {}
  for _, member in ipairs(expired) do
    local pair = cjson.decode(member)
    publish_live({ e = 'presence.left', u = pair[1], d = pair[2], r = 'expired' })
    local state = touched[pair[1]] or load_state(pair[1])
    if state then
      state.v[pair[2]] = nil
      touched[pair[1]] = state
    end
  end
  redis.call('ZREM', devices_key, unpack(expired))
  for user, state in pairs(touched) do
    store_state(user, state)
  end
  return true
end

-- After a change: let the whole session vanish after its last device expired, even if nobody
-- calls again; a grace period later, so the sweeper can still announce that expiry
-- (presence_sweep.lua). And have the sweeper come by at the earliest device expiry, or not at
-- all once no device is left.
local expiry_grace_ms = 300000
local function refresh_expiry()
  local top = redis.call('ZRANGE', devices_key, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('DEL', devices_key, users_key, profiles_key, present_key)
    not_due(due_key)
    return
  end
  local at = string.format('%.0f', tonumber(top[2]) + expiry_grace_ms)
  for _, key in ipairs({ devices_key, users_key, profiles_key, present_key }) do
    redis.call('PEXPIREAT', key, at)
  end
  local first = redis.call('ZRANGE', devices_key, 0, 0, 'WITHSCORES')
  due_at(due_key, first[2])
end

-- Present users and devices: O(log n), and exact even while expired ones await pruning.
local function user_count()
  return redis.call('ZCOUNT', present_key, after_now, '+inf')
end

local function device_count()
  return redis.call('ZCOUNT', devices_key, after_now, '+inf')
end

local function snapshot()
  return {
    now,
    user_count(),
    device_count(),
    redis.call('HGETALL', users_key),
    redis.call('HGETALL', profiles_key),
  }
end
