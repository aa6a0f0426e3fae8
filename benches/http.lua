-- wrk script: POST one scoring request (BODY) with a bearer token (TOKEN), both from the environment.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

local failed = 0
response = function(status, headers, body)
  if status ~= 200 then failed = failed + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx or socket errors: %d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("p50_us=%d p90_us=%d p99_us=%d rps=%.0f\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), summary.requests / (summary.duration / 1e6)))
end
