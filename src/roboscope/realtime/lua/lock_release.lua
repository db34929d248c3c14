-- Release the lock, only for the token that holds it. The fence counter stays.
-- KEYS[1] lock hash, KEYS[2] the announced grant, KEYS[3] the locks' due set; ARGV[1] token.
-- Returns 1 when released, 0 otherwise.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
local held = redis.call('HMGET', KEYS[1], 'fence', 'owner')
redis.call('DEL', KEYS[1], KEYS[2])
not_due(KEYS[3])
publish_live({ e = 'lock.released', o = held[2] or nil, f = held[1] })
return 1
