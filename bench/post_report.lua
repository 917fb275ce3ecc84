-- wrk script for bench/ingest: POST /v1/reports with a unique report per request.
-- Environment: HOTLINE_TOKEN (bearer token of a webhook source, required),
-- BENCH_RUN_ID (optional, makes external ids unique across runs on one DB).
-- external_id = "wrk-<run>-<thread>-<random>-<counter>": unique per thread by the counter,
-- across threads by the thread number, across runs by the run id and the random part.
-- done() (from summary.lua) prints one JSON line (prefixed "wrk_json ") that bench/ingest parses.

local thread_counter = 0
local threads = {}

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("tid", thread_counter)
  table.insert(threads, thread)
end

local token = os.getenv("HOTLINE_TOKEN")
local run_id = os.getenv("BENCH_RUN_ID") or tostring(os.time())
local counter = 0
local prefix
local path = "/v1/reports"
local headers = {}

function init(args)
  if token == nil or token == "" then
    error("post_report.lua: HOTLINE_TOKEN is not set")
  end
  math.randomseed(os.time() + (tid or 0) * 7919)
  prefix = string.format("wrk-%s-%d-%08x-", run_id, tid or 0, math.random(0, 0x7fffffff))
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"sender":"+15550100%03d","subject":"bench","text":"benchmark report %d from wrk",' ..
    '"external_id":"%s%d"}', counter % 1000, counter, prefix, counter)
  return wrk.format("POST", path, headers, body)
end

-- done(): the one-line JSON summary, from summary.lua next to this script, so the bare
-- and the hotlined runs print (and bench/ingest parses) exactly the same line.
local script_dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(script_dir .. "summary.lua")
