-- Heartbeats of many trainees, each from its own session and player page, the position advancing
-- with the wall clock from the trainee's first beat; one beat in 40 is a pause. Environment:
-- WXB_TRAINEES, a file with one "cookie tab lesson_id trainee_id" line per trainee (an even count:
-- thread 0 beats for the even lines, thread 1 for the odd ones, so a trainee's clock is one thread's).
local trainees = {}
for line in io.lines(os.getenv("WXB_TRAINEES")) do
  local cookie, tab, lesson = line:match("^(%S+) (%S+) (%S+)")
  trainees[#trainees + 1] = {cookie = cookie, tab = tab, lesson = lesson}
end
local created = 0
local counter = 0
local first = {}
-- WXB_DELAY_MS > 0 paces each connection: many trainees beating at a set rate, not as fast as possible.
local pace = tonumber(os.getenv("WXB_DELAY_MS") or "0")
if pace > 0 then
  function delay() return pace end
end

function setup(thread)
  thread:set("thread_id", created)
  created = created + 1
end

function init(args)
  math.randomseed(os.time() + thread_id)
end

function request()
  local n = counter * 2 + thread_id
  counter = counter + 1
  local i = (n % #trainees) + 1
  local t = trainees[i]
  local now = os.time()
  first[i] = first[i] or now
  local state = "playing"
  if math.random(40) == 1 then state = "paused" end
  local body = string.format('{"lesson_id": %s, "position": %d, "tab": "%s", "state": "%s"}',
    t.lesson, now - first[i], t.tab, state)
  return wrk.format("POST", "/api/play/heartbeat",
    {["Content-Type"] = "application/json", ["Cookie"] = "wxapp_session=" .. t.cookie}, body)
end

dofile("bench/wrk_result.lua")
