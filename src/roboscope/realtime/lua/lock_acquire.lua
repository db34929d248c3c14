-- Grant the session's lock if it is free.
-- KEYS[1] lock hash, KEYS[2] fence counter
-- ARGV[1] token, ARGV[2] ttl (ms), ARGV[3] fence counter TTL (ms), ARGV[4] owner (optional)
-- Returns {fence, now ms} or nil on contention.
--
-- fence = max(counter + 1, server time in microseconds): strictly above every earlier fence,
-- also when the counter was lost to a flush or a restart (see roboscope.realtime.locks).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local clock = redis.call('TIME')
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local fence = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
if now_us > fence then
  fence = now_us
end
local fence_text = string.format('%.0f', fence)
redis.call('SET', KEYS[2], fence_text, 'PX', ARGV[3])
if #ARGV >= 4 then
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fence', fence_text, 'owner', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fence', fence_text)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return { fence_text, math.floor(now_us / 1000) }
