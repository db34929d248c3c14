-- Heartbeat of one device of one user; returns {expiry (ms), users, devices}: a beat is the
-- hottest call, so it answers counts rather than the whole member list.
-- ARGV[2] user_id, ARGV[3] device_id, ARGV[4] ttl (ms), ARGV[5] profile JSON,
-- ARGV[6] the most devices a session may hold.
-- A device that is not present yet is refused when the session already holds the most
-- devices: the answer is then {0, users, devices} and nothing is stored.
local user, device, ttl, profile = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local max_devices = tonumber(ARGV[6])
local changed = prune()
local member = cjson.encode({ user, device })
local known = redis.call('ZSCORE', devices_key, member)
if not known and device_count() >= max_devices then
  if changed then
    refresh_expiry()
  end
  return { 0, user_count(), device_count() }
end
local expires = now + ttl
local previous_profile = redis.call('HGET', profiles_key, user)
local state = load_state(user) or { j = now_us_text, v = {} }
state.v[device] = expires
state.s = now
store_state(user, state)
redis.call('HSET', profiles_key, user, profile)
redis.call('ZADD', devices_key, expires, member)
refresh_expiry()
-- A device counts as known only while it has not expired (one awaiting pruning rejoins).
if not known or tonumber(known) <= now then
  publish_live({ e = 'presence.joined', u = user, d = device, p = profile, x = expires })
elseif previous_profile ~= profile then
  publish_live({ e = 'presence.updated', u = user, d = device, p = profile, x = expires })
end
return { expires, user_count(), device_count() }
