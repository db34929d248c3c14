-- Move a session in a sweeper's due set after a sweep, unless someone changed its entry since
-- the sweeper read it (then theirs stands).
-- KEYS[1] due set; ARGV[1] session id, ARGV[2] the score the sweeper read (text),
-- ARGV[3] the next due time (ms), or '' to drop the session.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
