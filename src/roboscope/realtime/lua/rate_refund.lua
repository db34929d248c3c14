-- Give back one request taken from a caller's budget by rate_take.lua, when the request it
-- paid for failed with 503 (the client was told "not now", so the budget is not spent).
-- KEYS[1] the budget key of one caller. ARGV[1] ms between requests at the sustained rate.
-- Moves the theoretical arrival time one interval back, never below now: a refund never
-- fills a bucket past full. Returns 1 when something was given back, 0 otherwise.
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
if tat <= now then
  return 0
end
local back = tat - interval
if back <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.3f', back), 'PX', math.max(1, math.ceil(back - now)))
end
return 1
