-- Grant the session's lock to this token if it is free.
-- KEYS[1] lock hash, KEYS[2] fence counter, KEYS[3] abandon mark of this token,
-- KEYS[4] the announced grant (see lock_sweep.lua), KEYS[5] the locks' due set
-- ARGV[1] token, ARGV[2] ttl (ms), ARGV[3] fence counter TTL (ms), ARGV[4] owner (optional)
-- Returns {1, fence, now ms, remaining ttl ms} when the token holds the lock,
-- {0, fence, now ms, remaining ttl ms, owner or nothing} of the grant that holds it when
-- another token does (who holds it and until when), or nil when this token was abandoned.
--
-- Idempotent for its token: the token is made by the caller before sending, so a second run
-- of the same request (a resend after a lost connection) answers the grant the first run made
-- instead of "taken". A token whose request was given up (see lock_abandon.lua) never gets
-- the lock, however late this script reaches Redis.
-- The fence: next_fence (lock_common.lua).
local clock = redis.call('TIME')
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local now_ms = math.floor(now_us / 1000)
local held = redis.call('HMGET', KEYS[1], 'token', 'fence', 'owner')
if held[1] then
  local remaining = redis.call('PTTL', KEYS[1])
  if held[1] == ARGV[1] then
    return { 1, held[2], now_ms, remaining }
  end
  return { 0, held[2], now_ms, remaining, held[3] }
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return false
end
local fence = next_fence(KEYS[2], clock, ARGV[3])
if #ARGV >= 4 then
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fence', fence, 'owner', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fence', fence)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
-- A grant that expired unannounced (the sweeper had not come by yet) is announced first.
local previous = redis.call('HMGET', KEYS[4], 'o', 'f')
if previous[2] then
  publish_live({ e = 'lock.expired', o = previous[1] or nil, f = previous[2] })
end
local expires = now_ms + tonumber(ARGV[2])
redis.call('DEL', KEYS[4])
if #ARGV >= 4 then
  redis.call('HSET', KEYS[4], 'f', fence, 'x', expires, 'o', ARGV[4])
else
  redis.call('HSET', KEYS[4], 'f', fence, 'x', expires)
end
redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[2]) + announce_grace_ms)
due_at(KEYS[5], expires)
publish_live({ e = 'lock.acquired', o = ARGV[4], f = fence, x = expires })
return { 1, fence, now_ms, tonumber(ARGV[2]) }
