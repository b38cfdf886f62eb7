-- wrk script for scripts/bench/tracker.sh: replays a file of announce requests, one a line.
-- Arguments (after `--`): FILE [PREFIX] [close|keepalive]
--   FILE    lines of `?query` (PREFIX is put in front) or whole paths (PREFIX empty)
--   PREFIX  e.g. `/announce` or `/<passkey>/announce`
--   close   send `Connection: close` (a new connection per announce, as opentracker and real clients do)
-- Each thread starts at its own offset and walks the file in order, so the client spends almost no CPU.
-- done() prints one machine-readable line: `WRK requests=... seconds=... rps=... p50_us=... p99_us=... errors=...`.

local counter = 0
function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
end

local lines = {}
local prefix = ""
local headers = {}
local index = 1

function init(args)
    for line in io.lines(args[1]) do
        lines[#lines + 1] = line
    end
    prefix = args[2] or ""
    if args[3] == "close" then
        headers["Connection"] = "close"
    end
    index = (id * 7919 * 13) % #lines + 1
end

function request()
    index = index + 1
    if index > #lines then
        index = 1
    end
    return wrk.format("GET", prefix .. lines[index], headers)
end

function done(summary, latency, requests)
    local errors = summary.errors
    local seconds = summary.duration / 1e6
    io.write(string.format(
        "WRK requests=%d seconds=%.2f rps=%.0f p50_us=%d p99_us=%d errors=%d status_errors=%d\n",
        summary.requests, seconds, summary.requests / seconds, latency:percentile(50), latency:percentile(99),
        errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
