-- Take one request from a caller's budget (take_budget, rate_common.lua).
-- KEYS[1] the budget key of one caller. ARGV[1] ms between requests at the sustained rate
-- (1000 / rate, may be fractional), ARGV[2] burst (requests allowed at once from full).
-- Returns {1, 0} when allowed, {0, ms until one more would be allowed} when refused.
local wait_ms = take_budget(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
if wait_ms > 0 then
  return { 0, wait_ms }
end
return { 1, 0 }
