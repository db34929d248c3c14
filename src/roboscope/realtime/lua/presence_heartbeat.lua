-- Heartbeat of one device of one user; returns {expiry (ms), users, devices}: a beat is the
-- hottest call, so it answers counts (O(1)) rather than the whole member list.
-- ARGV[1] user_id, ARGV[2] device_id, ARGV[3] ttl (ms), ARGV[4] profile JSON
local user, device, ttl, profile = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
prune()
local expires = now + ttl
local state = load_state(user) or { j = now_us_text, v = {} }
state.v[device] = expires
state.s = now
redis.call('HSET', users_key, user, cjson.encode(state))
redis.call('HSET', profiles_key, user, profile)
redis.call('ZADD', devices_key, expires, cjson.encode({ user, device }))
refresh_expiry()
return { expires, redis.call('HLEN', users_key), redis.call('ZCARD', devices_key) }
