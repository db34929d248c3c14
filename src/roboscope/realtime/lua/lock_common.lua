-- The lock scripts' shared rules (prepended by roboscope.realtime.scripts after the other
-- preludes).

-- The announced grant outlives the lock by this much, for the sweeper to announce its expiry
-- (lock_sweep.lua) however late it comes by.
local announce_grace_ms = 3600000

-- The next fence: max(counter + 1, server time in microseconds), strictly above every
-- earlier fence, also when the counter was lost to a flush or a restart (see
-- roboscope.realtime.locks). The fence travels as text and grows with INCR, so it stays exact
-- past 2^53 (Lua numbers are doubles); the time is built as text from TIME's two integers for
-- the same reason. `clock` is TIME's reply, `counter_ttl_ms` the counter key's lifetime.
local function next_fence(counter_key, clock, counter_ttl_ms)
  local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
  local counter = redis.call('GET', counter_key)
  if counter and tonumber(counter) >= now_us then
    redis.call('INCR', counter_key)  -- its reply would arrive as a double; read the exact text
    redis.call('PEXPIRE', counter_key, counter_ttl_ms)
    return redis.call('GET', counter_key)
  end
  local fence = clock[1] .. string.format('%06d', tonumber(clock[2]))
  redis.call('SET', counter_key, fence, 'PX', counter_ttl_ms)
  return fence
end
