-- Register (or renew) one server process among those that must confirm token revocations,
-- and forget the ones whose registration lapsed.
-- KEYS[1] the register (sorted set: member -> when it lapses, ms). ARGV[1] the process's
-- member (its id and what it signs with, as JSON), ARGV[2] how long it counts without a
-- renewal (ms).
-- Redis's clock is the one clock of every process: hosts whose clocks disagree still agree
-- on who is registered.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
