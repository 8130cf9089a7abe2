-- wrk script: POST a fixed JSON body (POST_BODY) to POST_PATH with the token POST_TOKEN;
-- counts non-2xx answers. The request is static (no request() function): wrk builds it once
-- and sends the same bytes every time, so the load generator spends no Lua per request on the
-- two cores it shares with the server under test.
wrk.method = "POST"
wrk.path = os.getenv("POST_PATH")
wrk.body = os.getenv("POST_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Vault-Token"] = os.getenv("POST_TOKEN")
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non200":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout))
end
