-- Take one request from a caller's budget (GCRA: a token bucket kept as one timestamp).
-- KEYS[1] the budget key of one caller. ARGV[1] ms between requests at the sustained rate
-- (1000 / rate, may be fractional), ARGV[2] burst (requests allowed at once from full).
-- Returns {1, 0} when allowed, {0, ms until one more would be allowed} when refused.
--
-- The key holds the theoretical arrival time (TAT, ms): when the bucket would be full
-- again. A request is allowed while TAT stays within burst * interval of now; it moves TAT
-- one interval on. The key expires when the bucket is full again, so an idle caller costs
-- nothing. Redis's clock is the one clock of every process: they share one budget.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then
  tat = now
end
local next_tat = tat + interval
local allowed_at = next_tat - burst * interval
if allowed_at > now then
  return { 0, math.ceil(allowed_at - now) }
end
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.max(1, math.ceil(next_tat - now)))
return { 1, 0 }
