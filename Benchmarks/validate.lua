-- POST /v1/deployments/validate, rotating over many actors' tokens (per-actor rate windows).
-- The requests are formatted once, up front, so the load generator spends its share of the two
-- cores sending bytes rather than building strings, as it does for /livez.
local body = '{"service":"demo-service","environment":"sandbox","version":"1.0.0","changeSummary":"load"}'
local requests = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  local headers = { ["Host"] = "127.0.0.1", ["Authorization"] = "Bearer " .. line, ["Content-Type"] = "application/json" }
  requests[#requests + 1] = wrk.format("POST", "/v1/deployments/validate", headers, body)
end
local n = 0
request = function()
  n = n + 1
  return requests[(n % #requests) + 1]
end
