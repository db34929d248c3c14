-- The server processes registered now (see auth_process_beat.lua), by Redis's clock.
-- KEYS[1] the register. Returns their members.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
