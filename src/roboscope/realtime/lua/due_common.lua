-- The sweepers' due sets (prepended by roboscope.realtime.scripts, after live_common): sorted
-- sets of session id -> when the sweeper should look at that session next (ms, server time).
-- The script that changes a session's presence or lock updates the session's entry in the
-- same step, so the schedule never disagrees with what it schedules, whatever fails between
-- two calls (roboscope.realtime.sweeper).
local function due_at(due_key, at_ms)
  redis.call('ZADD', due_key, string.format('%.0f', at_ms), live_session)
end

local function not_due(due_key)
  redis.call('ZREM', due_key, live_session)
end
