-- A bound trainee's MY_COURSES click, signed like WeChat; a new CreateTime on every request
-- so that retry dedup never short-cuts the work. Environment: WXB_PATH (path + signed query),
-- WXB_OPENIDS (comma-separated bound OpenIDs).
local path = os.getenv("WXB_PATH")
local openids = {}
for id in string.gmatch(os.getenv("WXB_OPENIDS"), "[^,]+") do openids[#openids + 1] = id end
local created = 0
local counter = 0

-- Runs in the main state once per thread; `thread_id` becomes a global of that thread's state.
function setup(thread)
  thread:set("thread_id", created)
  created = created + 1
end

function request()
  counter = counter + 1
  local n = counter * 64 + thread_id
  local openid = openids[(n % #openids) + 1]
  local body = "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[" .. openid ..
    "]]></FromUserName><CreateTime>" .. (1700000000 + n) .. "</CreateTime><MsgType><![CDATA[event]]></MsgType>" ..
    "<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[" .. (os.getenv("WXB_KEY") or "MY_COURSES") .. "]]></EventKey></xml>"
  return wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body)
end

dofile("bench/wrk_result.lua")
