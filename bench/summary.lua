-- wrk script for the bare ceiling run of bench/ingest: plain GET, and the same one-line
-- JSON summary as post_report.lua so both runs are parsed the same way.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'wrk_json {"duration_us":%d,"requests":%d,"bytes":%d,"errors_connect":%d,' ..
    '"errors_read":%d,"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"latency_p50_us":%d,"latency_p90_us":%d,"latency_p99_us":%d,"latency_max_us":%d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
