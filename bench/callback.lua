-- A bound trainee's MY_COURSES click (or WXB_KEY's; TEMPLATESENDJOBFINISH: WeChat's report), signed like WeChat. The callback refuses a timestamp more
-- than 300 s old and a (timestamp, nonce) pair reused with another body, so each request takes
-- a freshly signed query from WXB_QUERIES (a file of `signature&timestamp&nonce` lines written
-- just before the run) and its body is a function of that line alone: a request that wraps
-- around to a used line sends the same body again, which WeChat's own retries do too.
-- Environment: WXB_QUERIES, WXB_OPENIDS (comma-separated bound OpenIDs), WXB_KEY.
local queries = {}
for line in io.lines(os.getenv("WXB_QUERIES")) do queries[#queries + 1] = line end
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
  local n = (counter * 64 + thread_id) % #queries
  local openid = openids[(n % #openids) + 1]
  local key = os.getenv("WXB_KEY") or "MY_COURSES"
  local event = "<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[" .. key .. "]]></EventKey>"
  if key == "TEMPLATESENDJOBFINISH" then  -- WeChat's report on a template message it delivered
    event = "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>" .. (200000000 + n) ..
      "</MsgID><Status><![CDATA[success]]></Status>"
  end
  local body = "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[" .. openid ..
    "]]></FromUserName><CreateTime>" .. (1700000000 + n) .. "</CreateTime><MsgType><![CDATA[event]]></MsgType>" ..
    event .. "</xml>"
  return wrk.format("POST", "/wechat?" .. queries[n + 1] .. "&openid=x", {["Content-Type"] = "text/xml"}, body)
end

dofile("bench/wrk_result.lua")
