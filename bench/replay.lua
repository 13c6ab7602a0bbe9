-- wrk script for bench.ingest: replays pre-generated, signed webhook deliveries.
--
--   wrk -t T -c C -d 15s -s bench/replay.lua URL -- REQUESTS_FILE once|cycle T RECONNECT
--
-- REQUESTS_FILE has one delivery per line: webhook-id, webhook-timestamp, webhook-signature
-- and the JSON body, tab-separated. Thread n of T sends lines n, n+T, n+2T, ... so no two
-- threads send the same delivery. Every RECONNECT-th request (0: none) asks the server to
-- close the connection and wrk opens a new one, as senders' connection pools do; otherwise
-- each connection stays with the gunicorn worker that happened to accept it at the start,
-- and how unevenly the connections landed would decide the result.
--
-- In "once" mode every request must be new: a thread that runs out records it and starts
-- over (the repeats are answered as duplicates, so the run is invalid); in "cycle" mode
-- repeating is expected.
--
-- Each thread counts what it sent, the 202s and every other status, and keeps the delivery id
-- of each 202 answer so the caller can check that every acknowledged delivery was stored.
-- done() writes all of it, with wrk's latency percentiles, as JSON to $BENCH_WRK_REPORT.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   local path, mode, thread_count = args[1], args[2], tonumber(args[3])
   local reconnect_every = tonumber(args[4])
   cycle = mode == "cycle"
   deliveries = {}
   local line_number = 0
   for line in io.lines(path) do
      if line_number % thread_count == thread_index then
         local id, timestamp, signature, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.+)$")
         local headers = {
            ["Content-Type"] = "application/json",
            ["webhook-id"] = id,
            ["webhook-timestamp"] = timestamp,
            ["webhook-signature"] = signature,
         }
         if reconnect_every > 0 and (#deliveries + 1) % reconnect_every == 0 then
            headers["Connection"] = "close"
         end
         deliveries[#deliveries + 1] = wrk.format("POST", nil, headers, body)
      end
      line_number = line_number + 1
   end
   if #deliveries == 0 then
      error("no deliveries for thread " .. thread_index .. " in " .. path)
   end
   next_delivery = 1
   sent = 0
   accepted = 0
   exhausted = 0
   other_statuses = {}
   acknowledged = {}
end

function request()
   if next_delivery > #deliveries then
      next_delivery = 1
      if not cycle then
         exhausted = 1
      end
   end
   local delivery = deliveries[next_delivery]
   next_delivery = next_delivery + 1
   sent = sent + 1
   return delivery
end

function response(status, headers, body)
   if status == 202 then
      accepted = accepted + 1
      local delivery_id = body:match('"delivery":%s*(%d+)')
      if delivery_id then
         acknowledged[#acknowledged + 1] = delivery_id
      end
   else
      other_statuses[status] = (other_statuses[status] or 0) + 1
   end
end

function done(summary, latency, requests)
   local totals = { sent = 0, accepted = 0, exhausted = 0 }
   local others, acks = {}, {}
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + thread:get(name)
      end
      for status, count in pairs(thread:get("other_statuses")) do
         others[status] = (others[status] or 0) + count
      end
      for _, delivery_id in ipairs(thread:get("acknowledged")) do
         acks[#acks + 1] = delivery_id
      end
   end
   local other_json = {}
   for status, count in pairs(others) do
      other_json[#other_json + 1] = string.format('"%d": %d', status, count)
   end
   local errors = summary.errors
   local report = io.open(os.getenv("BENCH_WRK_REPORT"), "w")
   report:write(string.format(
      '{"duration_us": %d, "responses": %d, "sent": %d, "accepted": %d, "exhausted": %s, '
         .. '"other_statuses": {%s}, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
         .. '"latency_us": {"p50": %.1f, "p90": %.1f, "p99": %.1f, "p999": %.1f, '
         .. '"mean": %.1f, "max": %.1f}, '
         .. '"acknowledged": [%s]}\n',
      summary.duration, summary.requests, totals.sent, totals.accepted,
      totals.exhausted > 0 and "true" or "false",
      table.concat(other_json, ", "),
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.mean, latency.max,
      table.concat(acks, ", ")
   ))
   report:close()
end
