-- Live events (prepended by roboscope.realtime.scripts): published on the deployment's live
-- channel by the very script that makes the change they report, so each change is announced
-- exactly once, whichever process ran it. The payload is short raw fields; the API processes
-- turn it into the stream's event (roboscope.realtime.feed).
local live_channel = '__LIVE_CHANNEL__'
-- Every key of a session carries its id as the hash tag.
local live_session = string.match(KEYS[1], '{(.-)}')

local function publish_live(fields)
  fields.s = live_session
  redis.call('PUBLISH', live_channel, cjson.encode(fields))
end
