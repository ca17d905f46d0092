/* The lesson player: resumes where the trainee left off, keeps the rate at 1x, blocks seeking
   past the furthest point watched until the hours are earned, sends heartbeats (every few
   seconds while playing, and on play, pause, seek, end, hide and unload) and shows the
   attendance QR when the server asks for a check. The server decides what counts; this page
   only keeps an honest trainee from doing what would not count anyway. When heartbeats fail
   (no network, or the server answers that it can't record), the video pauses and says why:
   watching the server never saw would not count, and the part beyond the server's furthest
   point would earn nothing (the jump rule), so when beats come back the page returns to that
   point and says so. Plain ES5 for old in-app browsers. */
(function () {
  "use strict";

  var root = document.getElementById("player");
  var video = document.getElementById("video");
  var data = root.dataset;
  var lessonId = parseInt(data.lesson, 10);
  var tab = data.tab;
  var duration = parseFloat(data.duration);
  var beatMs = parseFloat(data.heartbeat) * 1000;
  var heartbeatUrl = data.heartbeatUrl;
  var statusUrl = data.statusUrl;
  var skewMs = parseInt(data.now, 10) - Date.now(); // server clock minus this device's
  var SEEK_SLACK = 1; // seconds: a seek this far past the furthest point is the slider's rounding
  var STOPPED = { superseded: data.stoppedSuperseded, closed: data.stoppedClosed }; // by a 409's error

  var serverMax = parseFloat(data.max) || 0;
  var completed = data.completed === "1";
  var localFurthest = serverMax; // reached by playing, in this page
  var lastGood = parseFloat(data.resume) || 0; // last position reached without seeking
  var restoring = lastGood > 0;
  var seekReported = false;
  var stopped = false;
  var check = null; // the pending attendance check
  var afterExpiry = false;
  var pollTimer = null;
  var countdownTimer = null;
  var unloading = false;
  var outage = null; // why heartbeats fail, while they do
  var recovering = false; // a beat was heard again during an outage
  var sent = 0; // heartbeats sent by fetch, numbered
  var heardUpTo = 0; // the latest of them that was answered
  var inflight = 0;
  var resumeAfter = false; // the video was playing when the outage began
  var retryTimer = null;
  var RETRY_MS = 3000;
  var OFFLINE = "网络连接中断。";

  function $(id) { return document.getElementById(id); }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
  }

  function allowedMax() { return Math.max(serverMax, localFurthest); }

  function toast(text) {
    $("toast-text").textContent = text;
    $("toast").hidden = false;
    setTimeout(function () { $("toast").hidden = true; }, 2000);
  }

  function showStatus() {
    // This page's own furthest point, at once; the server's confirmation apart from it.
    $("watched").textContent = clock(Math.max(serverMax, localFurthest, video.currentTime || 0)) + " / " + clock(duration);
    $("synced").textContent = clock(serverMax);
    $("hours-state").textContent = completed ? "已获得" : "未获得";
  }

  // -- heartbeats ---------------------------------------------------------------------------

  function beat(state, position) {
    if (stopped) { return; }
    var body = JSON.stringify({
      lesson_id: lessonId, tab: tab, state: state,
      // Until the video has reached the resume point, the page is where the server resumed it.
      position: position === undefined ? (restoring ? lastGood : video.currentTime) : position
    });
    if ((unloading || document.visibilityState === "hidden") && navigator.sendBeacon) {
      navigator.sendBeacon(heartbeatUrl, body); // text/plain: no preflight, no custom header
      return;
    }
    var mine = ++sent;
    inflight += 1;
    fetch(heartbeatUrl, {
      method: "POST", body: body, credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json" }
    })["catch"](function () {
      failed(OFFLINE, mine); // only the network's failure: a bug below must not pass for an outage
      return null;
    }).then(function (response) {
      if (response === null) { return null; }
      if (response.status === 409) {
        return response.json().then(function (refusal) { stop(STOPPED[refusal.error] || STOPPED.superseded); },
                                    function () { stop(STOPPED.superseded); });
      }
      if (response.status === 401 || response.status === 403) { stop("登录已失效，请从公众号菜单重新进入。"); return null; }
      if (!response.ok) {
        return response.json().then(function (refusal) { failed(sentence(refusal.error) || OFFLINE, mine); },
                                    function () { failed(OFFLINE, mine); });
      }
      return response.json().then(function (answer) { heard(answer, mine); }, function () { failed(OFFLINE, mine); });
    }).then(settled, function (error) {
      settled();
      if (window.console) { window.console.error(error); }
    });
  }

  function sentence(text) {
    if (typeof text !== "string" || !text) { return ""; }
    return /[。！？.!?]$/.test(text) ? text : text + "。";
  }

  function settled() {
    inflight -= 1;
    // Beats sent before an outage may still be answered after the first good one: the server's
    // furthest point is known once none is left in flight.
    if (recovering && inflight === 0) { recovered(); }
  }

  function heard(answer, mine) {
    serverMax = answer.max_position;
    completed = answer.lesson_completed;
    heardUpTo = Math.max(heardUpTo, mine);
    if (outage) { recovering = true; }
    if (afterExpiry) {
      // What was watched since the last passed check no longer counts: go back to where it ended.
      afterExpiry = false;
      localFurthest = serverMax;
      if (video.currentTime > serverMax) { video.currentTime = serverMax; }
    }
    if (answer.challenge) { showCheck(answer.challenge); }
    showStatus();
  }

  function stop(message) {
    stopped = true;
    video.pause();
    clearInterval(pollTimer);
    clearInterval(countdownTimer);
    clearTimeout(retryTimer);
    $("stopped-text").textContent = message;
    $("check").hidden = true;
    $("offline").hidden = true;
    $("stopped").hidden = false;
  }

  // -- failed heartbeats --------------------------------------------------------------------

  function failed(message, mine) {
    if (stopped || mine < heardUpTo) { return; } // a beat older than one heard: no news
    if (!outage) { resumeAfter = !video.paused && !video.ended; }
    outage = message;
    recovering = false;
    video.pause();
    $("offline-title").textContent = "学习已暂停";
    $("offline-text").textContent = message;
    $("offline-text").hidden = false;
    $("offline-contact").hidden = false;
    $("offline-wait").hidden = false;
    $("offline-back").hidden = true;
    $("offline-resume-area").hidden = true;
    $("offline").hidden = false;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () { beat(video.ended ? "ended" : "paused"); }, RETRY_MS); // until one is heard
  }

  function recovered() {
    outage = null;
    recovering = false;
    clearTimeout(retryTimer);
    if (video.currentTime <= serverMax + SEEK_SLACK) {
      // Nothing was lost: carry on as before.
      $("offline").hidden = true;
      toast("连接已恢复，继续学习");
      if (resumeAfter && !check) { playAgain(); }
      return;
    }
    // What played while the server heard nothing was not recorded: watch it again from there.
    localFurthest = serverMax;
    video.currentTime = serverMax;
    $("offline-title").textContent = "连接已恢复";
    $("offline-text").hidden = true;
    $("offline-contact").hidden = true;
    $("offline-wait").hidden = true;
    $("offline-resume-area").hidden = false;
    $("offline-back").textContent = "中断期间播放的部分没有记录，已退回到学校记录的位置 " + clock(serverMax) +
      "，请点击“继续学习”从这里接着看。";
    $("offline-back").hidden = false;
  }

  function playAgain() {
    var playing = video.play();
    if (playing && playing["catch"]) { playing["catch"](function () { /* the trainee taps play */ }); }
  }

  $("offline-resume").addEventListener("click", function () {
    $("offline").hidden = true;
    if (!check && !stopped) { playAgain(); }
  });

  // -- attendance checks --------------------------------------------------------------------

  function showCheck(challenge) {
    if (check && check.id === challenge.id) { return; }
    check = challenge;
    video.pause();
    $("toast").hidden = true; // nothing may cover the QR
    // A fresh <img> state first: while the new QR loads (slow on a weak signal) the browser would
    // otherwise keep showing the previous check's, already confirmed, and that one gets scanned.
    $("check-qr").removeAttribute("src");
    $("check-qr").src = challenge.qr_png;
    $("check-live").hidden = false;
    $("check-over").hidden = true;
    $("check-retry-area").hidden = true;
    $("check").hidden = false;
    var expiresAt = Date.parse(challenge.expires_at);
    var id = challenge.id;
    function tick() {
      var left = (expiresAt - (Date.now() + skewMs)) / 1000;
      $("check-countdown").textContent = clock(left);
      if (left <= 0 && check && check.id === id) { expired(); } // the server agrees within a poll
    }
    tick();
    clearInterval(countdownTimer);
    countdownTimer = setInterval(tick, 500);
    clearInterval(pollTimer);
    pollTimer = setInterval(poll, 2000);
  }

  function poll() {
    if (!check) { return; }
    var id = check.id;
    fetch(statusUrl.replace("CHECK", encodeURIComponent(id)), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer || !check || check.id !== id) { return; }
        if (answer.status === "verified") { passed(); }
        if (answer.status === "expired") { expired(); }
      })["catch"](function () { /* try again at the next tick */ });
  }

  function endCheck() {
    check = null;
    clearInterval(pollTimer);
    clearInterval(countdownTimer);
  }

  function passed() {
    endCheck();
    $("check").hidden = true;
    $("check-qr").removeAttribute("src"); // a confirmed QR is spent: never shown again
    $("check-expired").hidden = true;
    toast("验证成功，继续学习");
    if (video.ended) {
      beat("ended"); // the closing check passed: learn whether the hours are earned
      return;
    }
    var playing = video.play();
    if (playing && playing["catch"]) { playing["catch"](function () { /* the trainee taps play */ }); }
  }

  function expired() {
    endCheck();
    afterExpiry = true;
    $("check-live").hidden = true; // a dead QR must not stay on screen to be scanned
    $("check-qr").removeAttribute("src");
    $("check-over").hidden = false;
    $("check-retry-area").hidden = false;
    beat("paused"); // learns where the confirmed watching ends
  }

  $("check-retry").addEventListener("click", function () {
    $("check").hidden = true;
    $("check-expired").hidden = false; // said on the next QR too
    video.play(); // a playing heartbeat asks the server for a new check
  });

  // -- the video ----------------------------------------------------------------------------

  function resume() {
    if (restoring && lastGood < video.duration - 1) {
      video.currentTime = lastGood;
    } else {
      restoring = false;
    }
  }
  if (video.readyState >= 1) {
    resume(); // the metadata came before this script
  } else {
    video.addEventListener("loadedmetadata", resume);
  }

  video.addEventListener("ratechange", function () {
    if (video.playbackRate !== 1) { video.playbackRate = 1; }
    if (video.defaultPlaybackRate !== 1) { video.defaultPlaybackRate = 1; }
  });

  video.addEventListener("timeupdate", function () {
    if (video.seeking || restoring) { return; }
    var now = video.currentTime;
    if (now > localFurthest && now - lastGood < 2) { localFurthest = now; }
    lastGood = now;
    showStatus();
  });

  video.addEventListener("seeking", function () {
    if (restoring) { return; }
    if (!completed && video.currentTime > allowedMax() + SEEK_SLACK) {
      video.currentTime = Math.min(lastGood, allowedMax());
      toast("获得本课学时前不能快进");
      return;
    }
    if (!seekReported) {
      seekReported = true;
      beat(video.paused ? "paused" : "playing", lastGood); // what was played up to the seek
    }
  });

  video.addEventListener("seeked", function () {
    lastGood = video.currentTime;
    if (restoring) { restoring = false; return; }
    seekReported = false;
    beat(video.paused ? "paused" : "playing");
  });

  video.addEventListener("play", function () {
    if (outage && !stopped && !check) { resumeAfter = true; } // e.g. a check passed meanwhile
    if (stopped || check || outage) { video.pause(); }
  });
  video.addEventListener("playing", function () { beat("playing"); });
  video.addEventListener("pause", function () {
    if (!video.seeking) { beat("paused"); }
  });
  video.addEventListener("ended", function () {
    beat("ended");
    // The end of the lesson offers what comes next: its exercise first, then the next lesson.
    var exercise = $("exercise-link");
    if (exercise) { exercise.className = "weui-btn weui-btn_primary"; }
    var next = $("next-lesson");
    next.hidden = false;
    if (!exercise) { next.className = "weui-btn weui-btn_primary"; }
  });

  setInterval(function () {
    if (!video.paused && !video.ended && !video.seeking) { beat("playing"); }
  }, beatMs);

  document.addEventListener("visibilitychange", function () {
    // Studying means watching: a hidden page pauses (the heartbeat goes out as a beacon).
    if (document.visibilityState === "hidden" && !video.paused) { video.pause(); }
    if (document.visibilityState === "visible" && outage) { beat("paused"); } // a beacon hears nothing
  });
  window.addEventListener("pagehide", function () {
    unloading = true;
    beat(video.ended ? "ended" : "paused");
  });

  showStatus();
}());
