-- wrk script: POST a fixed JSON body (LOGIN_BODY) to LOGIN_PATH; counts non-200 answers.
local path = os.getenv("LOGIN_PATH")
local body = os.getenv("LOGIN_BODY")
local bad = 0
function request()
  return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end
function response(status, headers, b)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non200":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
end
