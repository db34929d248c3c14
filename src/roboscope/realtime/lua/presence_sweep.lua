-- Announce the expired devices of one session (presence.left, reason expired) although nobody
-- calls: the sweeper runs this for the sessions whose earliest device expiry has passed. The
-- session stays due at its earliest device expiry still ahead (or at once, while more than
-- one batch of expired devices awaits pruning), or leaves the due set with its last device.
prune()
refresh_expiry()
return 1
