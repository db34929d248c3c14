-- Who is present now. Prunes first, so the answer never lists an expired device.
if prune() then
  refresh_expiry()
end
return snapshot()
