-- Free the lock whoever holds it (an admin's forced release) and consume a fence, so that no
-- write of the old holder can commit once the caller has recorded that fence on the row.
-- KEYS[1] lock hash, KEYS[2] fence counter, KEYS[3] the announced grant,
-- KEYS[4] the locks' due set
-- ARGV[1] fence counter TTL (ms)
-- Returns the consumed fence (text), or false when the lock was free.
-- The fence is a grant's next fence (next_fence, lock_common.lua).
local held = redis.call('HMGET', KEYS[1], 'token', 'fence', 'owner')
if not held[1] then
  return false
end
local fence = next_fence(KEYS[2], redis.call('TIME'), ARGV[1])
redis.call('DEL', KEYS[1], KEYS[3])
not_due(KEYS[4])
publish_live({ e = 'lock.released', o = held[3] or nil, f = held[2], r = 'forced' })
return fence
