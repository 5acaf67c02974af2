-- Gateway decisions as NGINX asks them (GET /v1/gateway/nginx with X-Original-Method and
-- X-Original-URI), half for a read and half for a deploy with its Idempotency-Key, rotating over
-- many actors' tokens (per-actor gateway rate windows). Formatted once, up front.
local requests = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  local auth = "Bearer " .. line
  requests[#requests + 1] = wrk.format("GET", "/v1/gateway/nginx",
    { ["Host"] = "127.0.0.1", ["Authorization"] = auth, ["X-Original-Method"] = "GET", ["X-Original-URI"] = "/v1/deployments?service=demo-service" })
  requests[#requests + 1] = wrk.format("GET", "/v1/gateway/nginx",
    { ["Host"] = "127.0.0.1", ["Authorization"] = auth, ["X-Original-Method"] = "POST", ["X-Original-URI"] = "/v1/deployments", ["Idempotency-Key"] = "k-" .. #requests })
end
local n = 0
request = function()
  n = n + 1
  return requests[(n % #requests) + 1]
end
