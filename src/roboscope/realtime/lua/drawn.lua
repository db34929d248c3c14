-- An operation that takes its request's draw on the caller's rate budget itself, in the same
-- call: one Redis round trip instead of two (roboscope.realtime.draws). The script is this
-- file's head, rate_common.lua, the operation's preludes, the operation wrapped in
-- `operation()`, and this file's tail. Its KEYS and ARGV are the operation's, then the
-- budget's key (the last KEY) and its interval and burst (the last two ARGV); the head
-- removes those, so the operation sees exactly what it would see alone.
-- Returns {0, ms until one more request would be allowed} when the budget refuses (the
-- operation does not run), else {1, the operation's answer}.
local budget_key = table.remove(KEYS)
local budget_burst = tonumber(table.remove(ARGV))
local budget_interval = tonumber(table.remove(ARGV))
-- __OPERATION__
local budget_wait_ms = take_budget(budget_key, budget_interval, budget_burst)
if budget_wait_ms > 0 then
  return { 0, budget_wait_ms }
end
return { 1, operation() }
