-- The current grant without its token, read atomically with its remaining TTL.
-- KEYS[1] lock hash. Returns {fence, remaining ms, now ms, owner or nil} or nil when free.
local held = redis.call('HMGET', KEYS[1], 'fence', 'owner')
if not held[1] then
  return false
end
local remaining = redis.call('PTTL', KEYS[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
return { held[1], remaining, now, held[2] }
