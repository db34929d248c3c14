-- Extend the lock to ttl from now, only for the token that holds it; the fence is kept.
-- KEYS[1] lock hash, KEYS[2] the announced grant, KEYS[3] the locks' due set;
-- ARGV[1] token, ARGV[2] ttl (ms)
-- Returns {fence, now ms, owner or nil} or nil when the token does not hold the lock.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return false
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local held = redis.call('HMGET', KEYS[1], 'fence', 'owner')
local expires = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[2], 'f', held[1], 'x', expires)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) + announce_grace_ms)
due_at(KEYS[3], expires)
publish_live({ e = 'lock.extended', o = held[2] or nil, f = held[1], x = expires })
return { held[1], now, held[2] }
