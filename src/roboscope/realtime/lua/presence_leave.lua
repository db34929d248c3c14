-- One device of a user leaves (ARGV[3] given) or all of them (ARGV[3] absent).
-- ARGV[2] user_id, ARGV[3] device_id (optional); returns the snapshot after it.
local user = ARGV[2]
local changed = prune()
local state = load_state(user)
if state then
  local leaving = {}
  if #ARGV >= 3 then
    leaving[1] = ARGV[3]
  else
    for device in pairs(state.v) do
      leaving[#leaving + 1] = device
    end
  end
  for _, device in ipairs(leaving) do
    state.v[device] = nil
    if redis.call('ZREM', devices_key, cjson.encode({ user, device })) == 1 then
      publish_live({ e = 'presence.left', u = user, d = device, r = 'left' })
    end
  end
  store_state(user, state)
  changed = true
end
if changed then
  refresh_expiry()
end
return snapshot()
