-- A caller's rate budget (prepended by roboscope.realtime.scripts to rate_take.lua, and first
-- of all to an operation's script that takes its request's draw itself: drawn.lua).
-- GCRA: a token bucket kept as one timestamp. The key holds the theoretical arrival time
-- (TAT, ms): when the bucket would be full again. A request is allowed while TAT stays
-- within burst * interval of now; it moves TAT one interval on. The key expires when the
-- bucket is full again, so an idle caller costs nothing. Redis's clock is the one clock of
-- every process: they share one budget.

-- Take one request from the budget at `key` (`interval`: ms between requests at the
-- sustained rate, may be fractional; `burst`: requests allowed at once from full).
-- Returns 0 when allowed, else the ms until one more would be (nothing is written then).
local function take_budget(key, interval, burst)
  local budget_clock = redis.call('TIME')
  local now = tonumber(budget_clock[1]) * 1000 + tonumber(budget_clock[2]) / 1000
  local tat = tonumber(redis.call('GET', key) or 0)
  if tat < now then
    tat = now
  end
  local next_tat = tat + interval
  local allowed_at = next_tat - burst * interval
  if allowed_at > now then
    return math.ceil(allowed_at - now)
  end
  redis.call('SET', key, string.format('%.3f', next_tat), 'PX', math.max(1, math.ceil(next_tat - now)))
  return 0
end
