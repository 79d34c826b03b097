-- wrk script of search_bench.sh: GETs the paths listed in the file BENCH_PATHS (one per line,
-- e.g. /fhir/Patient?identifier=...) in turn, each thread starting at a different line. At the
-- end one machine-readable line, as wrk_report.lua:
-- RESULT requests duration_us p50_us p99_us non_2xx_3xx socket_errors
local paths = {}
local paths_file = os.getenv("BENCH_PATHS")
assert(paths_file and paths_file ~= "", "BENCH_PATHS is not set")
for line in io.lines(paths_file) do
  if line ~= "" then paths[#paths + 1] = line end
end
assert(#paths > 0, "BENCH_PATHS lists no path")

local next_thread = 0
setup = function(thread)
  thread:set("first", next_thread)
  next_thread = next_thread + 1
end

local i = nil
request = function()
  if i == nil then i = (first or 0) * 7919 end
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
                         latency:percentile(50), latency:percentile(99), e.status,
                         e.connect + e.read + e.write + e.timeout))
end
