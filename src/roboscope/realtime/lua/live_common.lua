-- Live events (prepended by roboscope.realtime.scripts): published on the live channel of the
-- session's shard by the very script that makes the change they report, so each change is
-- announced exactly once, whichever process ran it. The payload is short raw fields; the API
-- processes turn it into the stream's event (roboscope.realtime.feed).
-- Every key of a session is `roboscope:{s<shard>}:<session id>:…` (roboscope.realtime.keys):
-- the channel carries the same hash tag, so on Redis Cluster it is in the slot of the keys
-- (sharded pub/sub, SPUBLISH); elsewhere the command is PUBLISH, and the name ends with the
-- Redis database number (roboscope.realtime.feed.channel).
local live_tag, live_session = string.match(KEYS[1], '^[^{]*({[^}]*}):([^:]*)')
local live_channel = '__LIVE_CHANNEL_PREFIX__' .. live_tag .. '__LIVE_CHANNEL_SUFFIX__'

local function publish_live(fields)
  fields.s = live_session
  redis.call('__PUBLISH__', live_channel, cjson.encode(fields))
end
