-- Announce a lock that expired (lock.expired) although nobody calls: the sweeper runs this
-- for the sessions whose lock was due. Exactly once: the announced grant is deleted here, by
-- the one script run that finds the lock gone, or replaced by the next acquire (which then
-- announces the expiry itself).
-- KEYS[1] lock hash, KEYS[2] the announced grant, KEYS[3] the locks' due set.
-- Leaves the session due at the lock's expiry while it is held, else not due at all.
local remaining = redis.call('PTTL', KEYS[1])
if remaining > 0 then
  local clock = redis.call('TIME')
  due_at(KEYS[3], tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + remaining)
  return 1
end
local announced = redis.call('HMGET', KEYS[2], 'o', 'f')
if announced[2] then
  redis.call('DEL', KEYS[2])
  publish_live({ e = 'lock.expired', o = announced[1] or nil, f = announced[2] })
end
not_due(KEYS[3])
return 0
