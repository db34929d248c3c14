-- What a live stream starts with, in one round trip and at one moment: who is present (as
-- presence_snapshot.lua answers) and the lock's grant without its token (as lock_status.lua).
-- KEYS[1..5] as presence_common.lua, KEYS[6] the lock hash (one session: one hash slot).
-- Returns {presence snapshot, {fence, remaining ms, now ms, owner or nil} or nil when free}.
if prune() then
  refresh_expiry()
end
local lock = false
local held = redis.call('HMGET', KEYS[6], 'fence', 'owner')
if held[1] then
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  lock = { held[1], redis.call('PTTL', KEYS[6]), now, held[2] }
end
return { snapshot(), lock }
