-- POST /v1/deployments with a fresh Idempotency-Key each time: durable reservations dispatched to Gate,
-- rotating over the eight services of bench-policy.yaml (a group each, so slots never run out).
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local services = { "demo-service" }
for i = 1, 7 do services[#services + 1] = "load-service-" .. i end
local bodies = {}
for i, service in ipairs(services) do
  bodies[i] = '{"service":"' .. service .. '","environment":"sandbox","version":"1.0.0","changeSummary":"load"}'
end
local n = 0
local run = tostring(os.time())
request = function()
  n = n + 1
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1], ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "load-" .. run .. "-" .. n,
  }
  return wrk.format("POST", "/v1/deployments", headers, bodies[(n % #bodies) + 1])
end
