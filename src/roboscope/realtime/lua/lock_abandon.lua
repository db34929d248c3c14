-- Undo an acquire whose answer never came back (a timeout, a lost connection): Redis may have
-- run it, or may still run it later (a stalled server works through what was sent to it once
-- it recovers). Frees the lock if this token holds it, and marks the token abandoned, so that
-- an acquire of this token arriving after this script cannot take the lock either.
-- KEYS[1] lock hash, KEYS[2] abandon mark of the token, KEYS[3] the announced grant,
-- KEYS[4] the locks' due set; ARGV[1] token, ARGV[2] mark TTL (ms)
-- Returns 1 when it freed the lock, 0 otherwise. Idempotent.
local freed = 0
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  local held = redis.call('HMGET', KEYS[1], 'fence', 'owner')
  redis.call('DEL', KEYS[1], KEYS[3])
  not_due(KEYS[4])
  publish_live({ e = 'lock.released', o = held[2] or nil, f = held[1] })
  freed = 1
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return freed
