-- Announce the expired devices of one session (presence.left, reason expired) although nobody
-- calls: the sweeper runs this for the sessions whose earliest device expiry has passed.
-- Returns the earliest expiry still ahead (ms), or false when no device is left.
if prune() then
  refresh_expiry()
end
local first = redis.call('ZRANGE', devices_key, 0, 0, 'WITHSCORES')
if #first == 0 then
  return false
end
return tonumber(first[2])
