-- Announce a lock that expired (lock.expired) although nobody calls: the sweeper runs this
-- for the sessions whose lock was due. Exactly once: the announced grant is deleted here, by
-- the one script run that finds the lock gone, or replaced by the next acquire (which then
-- announces the expiry itself).
-- KEYS[1] lock hash, KEYS[2] the announced grant.
-- Returns when to look again (ms, server time) while the lock is held, else false.
local remaining = redis.call('PTTL', KEYS[1])
if remaining > 0 then
  local clock = redis.call('TIME')
  return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + remaining
end
local announced = redis.call('HMGET', KEYS[2], 'o', 'f')
if announced[2] then
  redis.call('DEL', KEYS[2])
  publish_live({ e = 'lock.expired', o = announced[1] or nil, f = announced[2] })
end
return false
