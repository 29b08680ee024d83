-- wrk-roundrobin.lua: each request takes the next signed callback from a
-- file written by gen-callbacks ("SIGNATURE<TAB>BODY" a line).
--
--   wrk -t2 -c64 -d15s --latency -s bench/wrk-roundrobin.lua URL -- FILE THREADS
--
-- Thread k of T sends lines k, k+T, k+2T ... so no two threads send the same
-- callback; a thread that runs out starts its share again (those repeats are
-- counted as "wrapped" and usagehookd answers them as duplicates).
-- At the end it prints one machine-readable line:
--   BENCH rps=... p50_us=... p90_us=... p99_us=... p999_us=... max_us=...
--         requests=... s200=... dup=... s4xx=... s5xx=... other=...
--         errors=... wrapped=...

local threads = {}
local nextid = 0

function setup(thread)
	thread:set("id", nextid)
	nextid = nextid + 1
	table.insert(threads, thread)
end

function init(args)
	local file = args[1]
	local nthreads = tonumber(args[2] or "1")
	assert(file, "usage: ... -- CALLBACKS-FILE THREADS")
	local path = wrk.path
	reqs = {}
	local i = 0
	for line in io.lines(file) do
		if i % nthreads == id then
			local tab = line:find("\t", 1, true)
			local sig = line:sub(1, tab - 1)
			local body = line:sub(tab + 1)
			reqs[#reqs + 1] = wrk.format("POST", path, {
				["Content-Type"] = "application/x-www-form-urlencoded",
				["X-Twilio-Signature"] = sig,
			}, body)
		end
		i = i + 1
	end
	assert(#reqs > 0, file .. ": no callbacks for thread " .. id)
	nreqs = #reqs
	pos = 0
	wrapped = 0
	s200 = 0
	dup = 0
	s4xx = 0
	s5xx = 0
	other = 0
end

function request()
	pos = pos + 1
	if pos > #reqs then
		pos = 1
		wrapped = wrapped + 1
	end
	return reqs[pos]
end

function response(status, headers, body)
	if status == 200 then
		s200 = s200 + 1
		if headers["X-Usagehook-Duplicate"] then
			dup = dup + 1
		end
	elseif status >= 400 and status < 500 then
		s4xx = s4xx + 1
	elseif status >= 500 then
		s5xx = s5xx + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local t = { s200 = 0, dup = 0, s4xx = 0, s5xx = 0, other = 0,
	    wrapped = 0, sent = 0 }
	for _, thread in ipairs(threads) do
		for k, _ in pairs(t) do
			if k ~= "sent" then
				t[k] = t[k] + (thread:get(k) or 0)
			end
		end
		-- Requests handed out per thread: whole passes plus the position.
		t.sent = t.sent + (thread:get("wrapped") or 0) *
		    (thread:get("nreqs") or 0) +
		    (thread:get("pos") or 0)
	end
	local e = summary.errors
	local errors = e.connect + e.read + e.write + e.timeout
	io.write(string.format("BENCH rps=%.1f p50_us=%d p90_us=%d p99_us=%d" ..
	    " p999_us=%d max_us=%d requests=%d sent=%d s200=%d dup=%d s4xx=%d" ..
	    " s5xx=%d other=%d errors=%d wrapped=%d\n",
	    summary.requests / (summary.duration / 1e6),
	    latency:percentile(50), latency:percentile(90),
	    latency:percentile(99), latency:percentile(99.9), latency.max,
	    summary.requests, t.sent, t.s200, t.dup, t.s4xx, t.s5xx, t.other,
	    errors, t.wrapped))
end
