-- Release the lock, only for the token that holds it. The fence counter stays.
-- KEYS[1] lock hash; ARGV[1] token. Returns 1 when released, 0 otherwise.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
