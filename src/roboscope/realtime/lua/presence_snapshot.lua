-- Who is present now. Prunes first (one batch); devices that expired but still await
-- pruning are dropped by the caller, so the answer never lists an expired device.
if prune() then
  refresh_expiry()
end
return snapshot()
