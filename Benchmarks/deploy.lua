-- POST /v1/deployments with a fresh Idempotency-Key each time: durable reservations dispatched to Gate.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local body = '{"service":"demo-service","environment":"sandbox","version":"1.0.0","changeSummary":"load"}'
local n = 0
local run = tostring(os.time())
request = function()
  n = n + 1
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1], ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "load-" .. run .. "-" .. n,
  }
  return wrk.format("POST", "/v1/deployments", headers, body)
end
