-- wrk script of rest_bench.sh. With BENCH_BODY set, every request is a POST of that file's
-- bytes as application/fhir+json; otherwise wrk's default GET. At the end one machine-readable
-- line: RESULT requests duration_us p50_us p99_us non_2xx_3xx socket_errors
local body_path = os.getenv("BENCH_BODY")
if body_path and body_path ~= "" then
  local file = assert(io.open(body_path, "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/fhir+json"
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
                         latency:percentile(50), latency:percentile(99), e.status,
                         e.connect + e.read + e.write + e.timeout))
end
