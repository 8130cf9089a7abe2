-- wrk script: POST a fixed JSON body (POST_BODY) to POST_PATH with the token POST_TOKEN;
-- counts non-200 answers.
local path = os.getenv("POST_PATH")
local body = os.getenv("POST_BODY")
local token = os.getenv("POST_TOKEN")
function request()
  return wrk.format("POST", path, { ["Content-Type"] = "application/json", ["X-Vault-Token"] = token }, body)
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non200":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
end
