-- Free the lock whoever holds it (an admin's forced release) and consume a fence, so that no
-- write of the old holder can commit once the caller has recorded that fence on the row.
-- KEYS[1] lock hash, KEYS[2] fence counter, KEYS[3] the announced grant,
-- KEYS[4] the locks' due set
-- ARGV[1] fence counter TTL (ms)
-- Returns the consumed fence (text), or false when the lock was free.
-- The fence is computed like a grant's (lock_acquire.lua): max(counter + 1, time in us).
local held = redis.call('HMGET', KEYS[1], 'token', 'fence', 'owner')
if not held[1] then
  return false
end
local clock = redis.call('TIME')
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local counter = redis.call('GET', KEYS[2])
local fence
if counter and tonumber(counter) >= now_us then
  redis.call('INCR', KEYS[2])
  fence = redis.call('GET', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
else
  fence = clock[1] .. string.format('%06d', tonumber(clock[2]))
  redis.call('SET', KEYS[2], fence, 'PX', ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[3])
not_due(KEYS[4])
publish_live({ e = 'lock.released', o = held[3] or nil, f = held[2], r = 'forced' })
return fence
