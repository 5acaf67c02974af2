-- POST /v1/deployments/validate, rotating over many actors' tokens (per-actor rate windows).
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local body = '{"service":"demo-service","environment":"sandbox","version":"1.0.0","changeSummary":"load"}'
local n = 0
request = function()
  n = n + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1], ["Content-Type"] = "application/json" }
  return wrk.format("POST", "/v1/deployments/validate", headers, body)
end
