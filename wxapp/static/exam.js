/* The exam page: list → photo → one question per screen → confirm → photo → result.
 * Answers are saved as they are given (PUT per tap); the deadline is the server's, the clock
 * here only shows it. Inside WeChat the JS-SDK camera is used when wx.config succeeds; otherwise
 * a file input with capture=user. */
(function () {
  "use strict";
  var page = JSON.parse(document.getElementById("exam-data").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var KIND = { single: "单选题", multi: "多选题", judge: "判断题" };
  var $ = function (id) { return document.getElementById(id); };
  var state = { examId: null, attempt: null, index: 0, photo: null, mediaId: null, moment: "before",
                clockOffset: page.now_ms - Date.now(), timer: null, wxReady: false };

  function show(id) {
    ["exam-list", "exam-photo", "exam-paper", "exam-result"].forEach(function (s) { $(s).hidden = s !== id; });
    window.scrollTo(0, 0);
  }
  function busy(text) { $("busy-text").textContent = text || "请稍候"; $("exam-busy").hidden = !text; }
  function fail(message) {
    var box = $("exam-error");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(fail.t);
    fail.t = setTimeout(function () { box.hidden = true; }, 6000);
  }

  function api(method, path, body) {
    var headers = { "X-CSRFToken": csrf, "Accept": "application/json" };
    if (body && !(body instanceof FormData)) { headers["Content-Type"] = "application/json"; body = JSON.stringify(body); }
    return fetch("/api" + path, { method: method, headers: headers, body: body, credentials: "same-origin" })
      .then(function (res) {
        if (res.status === 204) return { status: 204, data: null };
        return res.json().catch(function () { return { error: "网络异常，请稍后重试" }; })
          .then(function (data) { return { status: res.status, data: data }; });
      }, function () { return { status: 0, data: { error: "网络连接失败，请检查网络后重试" } }; });
  }

  /* -- photos --------------------------------------------------------------------------- */
  function openPhoto(moment) {
    state.moment = moment;
    state.photo = null; state.mediaId = null;
    $("photo-title").textContent = moment === "before" ? "考前拍照" : "交卷拍照";
    $("photo-hint").textContent = moment === "before"
      ? "请本人正对镜头拍一张照片，用于核对考生身份。"
      : "交卷前请本人再拍一张照片，用于交卷验证。";
    $("photo-go").textContent = moment === "before" ? "开始答题" : "拍好了，交卷";
    $("photo-go").disabled = true;
    $("photo-back").textContent = moment === "before" ? "返回" : "返回继续答题";
    $("photo-preview").hidden = true; $("photo-empty").hidden = false;
    $("photo-input").value = "";
    $("photo-wx").hidden = !state.wxReady; $("photo-pick").hidden = state.wxReady;
    show("exam-photo");
  }
  function previewReady(src) {
    $("photo-preview").src = src; $("photo-preview").hidden = false; $("photo-empty").hidden = true;
    $("photo-go").disabled = false;
  }
  $("photo-input").addEventListener("change", function () {
    var file = this.files && this.files[0];
    if (!file) return;
    $("photo-go").disabled = true;
    shrunk(file).then(function (photo) {
      if (photo.size > 5 * 1024 * 1024) { fail("照片超过 5 MB，请重新拍摄。"); return; }
      state.photo = photo;
      previewReady(URL.createObjectURL(photo));
    });
  });
  /* The photo as stored, at most PHOTO_SIDE px, re-encoded here: a phone camera's 12 MP (1–5 MB, more
     than 5 from a 48 MP camera) uploads in a fraction of the time over a site's mobile network, and the
     server decodes a tenth of the pixels. Only where the browser draws a photo upright from its EXIF
     orientation (image-orientation: from-image); elsewhere, or on any failure, the photo goes as taken
     and the server does the same work. */
  var PHOTO_SIDE = 1280;  // services/exam/photos.py MAX_SIDE
  function shrunk(file) {
    return new Promise(function (resolve) {
      var canvas = document.createElement("canvas");
      if (!canvas.toBlob || !window.CSS || !CSS.supports || !CSS.supports("image-orientation", "from-image")) {
        resolve(file); return;
      }
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () {
        URL.revokeObjectURL(url);
        var scale = PHOTO_SIDE / Math.max(img.naturalWidth, img.naturalHeight);
        if (!(scale < 1)) { resolve(file); return; }
        canvas.width = Math.round(img.naturalWidth * scale);
        canvas.height = Math.round(img.naturalHeight * scale);
        var context = canvas.getContext("2d");
        context.imageSmoothingQuality = "high";
        context.drawImage(img, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) { resolve(blob && blob.size ? blob : file); }, "image/jpeg", 0.9);
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(file); };
      img.src = url;
    });
  }
  $("photo-wx").addEventListener("click", function () {
    wx.chooseImage({ count: 1, sizeType: ["compressed"], sourceType: ["camera"], success: function (res) {
      var localId = res.localIds[0];
      wx.uploadImage({ localId: localId, isShowProgressTips: 1, success: function (up) {
        state.mediaId = up.serverId;
        if (window.__wxjs_is_wkwebview) {  // iOS can't show a localId as an image: ask for its data
          wx.getLocalImgData({ localId: localId, success: function (r) { previewReady(r.localData); } });
        } else {
          previewReady(localId);
        }
      }, fail: function () { fail("照片上传失败，请重新拍摄。"); } });
    } });
  });
  function photoForm() {
    var form = new FormData();
    if (state.mediaId) form.append("media_id", state.mediaId); else form.append("photo", state.photo, "photo.jpg");
    return form;
  }
  $("photo-back").addEventListener("click", function () {
    if (state.moment === "after") { show("exam-paper"); } else { show("exam-list"); }
  });
  $("photo-go").addEventListener("click", function () {
    if (state.moment === "before") startAttempt(photoForm()); else submitAttempt(photoForm());
  });

  /* -- starting and resuming -------------------------------------------------------------- */
  function startAttempt(form) {
    busy("正在开始考试…");
    api("POST", "/exams/" + state.examId + "/attempts", form).then(function (r) {
      busy(null);
      if (r.status === 201 || r.status === 200) { enterPaper(r.data); return; }
      if (r.status === 400 && state.moment === "before" && $("exam-photo").hidden) { openPhoto("before"); return; }
      fail(r.data.error);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".exam-start"), function (button) {
    button.addEventListener("click", function () {
      state.examId = button.getAttribute("data-exam");
      var card = $("exam-card-" + state.examId);
      if (card.getAttribute("data-state") === "in_progress") { state.moment = "before"; startAttempt(new FormData()); }
      else { openPhoto("before"); }
    });
  });
  function resume(attemptId) {
    busy("正在载入试卷…");
    api("GET", "/attempts/" + attemptId).then(function (r) {
      busy(null);
      if (r.status !== 200) { fail(r.data.error); return; }
      if (r.data.submitted) { showResult(r.data, true); return; }
      enterPaper(r.data);
    });
  }

  /* -- the paper -------------------------------------------------------------------------- */
  function enterPaper(attempt) {
    state.attempt = attempt;
    state.examId = attempt.exam_id;
    var first = attempt.questions.findIndex(function (q) { return !q.answer || !q.answer.length; });
    state.index = first < 0 ? 0 : first;
    renderGrid();
    renderQuestion();
    show("exam-paper");
    startClock();
  }
  function answered(q) { return q.answer && q.answer.length > 0; }
  function renderQuestion() {
    var qs = state.attempt.questions, q = qs[state.index];
    $("paper-count").textContent = "第 " + (state.index + 1) + " / " + qs.length + " 题";
    var done = qs.filter(answered).length;
    $("paper-answered").textContent = "已答 " + done + " 题，未答 " + (qs.length - done) + " 题";
    $("paper-progress").style.width = Math.round(done * 100 / qs.length) + "%";
    $("question-kind").textContent = "[" + KIND[q.type] + "]";
    $("question-stem").textContent = (state.index + 1) + ". " + q.stem;
    var box = $("question-options"), multi = q.type === "multi";
    box.className = "weui-cells " + (multi ? "weui-cells_checkbox" : "weui-cells_radio");
    box.innerHTML = "";
    q.options.forEach(function (opt) {
      var id = "opt-" + q.id + "-" + opt.key;
      var label = document.createElement("label");
      label.className = "weui-cell weui-cell_active weui-check__label option";
      label.htmlFor = id;
      label.innerHTML = '<div class="weui-cell__bd"><p></p></div><div class="weui-cell__ft">' +
        '<input class="weui-check"><span class="weui-icon-checked"></span></div>';
      label.querySelector("p").textContent = (q.type === "judge" ? "" : opt.key + ". ") + opt.text;
      var input = label.querySelector("input");
      input.type = multi ? "checkbox" : "radio"; input.name = "q" + q.id; input.id = id; input.value = opt.key;
      input.checked = (q.answer || []).indexOf(opt.key) >= 0;
      input.addEventListener("change", function () { choose(q); });
      box.appendChild(label);
    });
    $("paper-prev").disabled = state.index === 0;
    $("paper-next").disabled = state.index === qs.length - 1;
    markGrid();
  }
  function choose(q) {
    var keys = Array.prototype.filter.call(document.querySelectorAll('input[name="q' + q.id + '"]'),
      function (i) { return i.checked; }).map(function (i) { return i.value; });
    q.answer = keys;
    save(q, keys);
    renderQuestionCounts();
  }
  function renderQuestionCounts() {
    var qs = state.attempt.questions, done = qs.filter(answered).length;
    $("paper-answered").textContent = "已答 " + done + " 题，未答 " + (qs.length - done) + " 题";
    $("paper-progress").style.width = Math.round(done * 100 / qs.length) + "%";
    markGrid();
  }
  function save(q, keys) {
    $("paper-save").textContent = "保存中…";
    api("PUT", "/attempts/" + state.attempt.id + "/answers/" + q.id, { answer: keys }).then(function (r) {
      if (r.status === 204) { $("paper-save").textContent = "答案已保存"; return; }
      $("paper-save").textContent = "";
      if (r.status === 409) { stopClock(); resume(state.attempt.id); fail(r.data.error); return; }
      fail(r.data.error || "答案没有保存成功，请重新选择。");
    });
  }
  $("paper-prev").addEventListener("click", function () { if (state.index > 0) { state.index--; renderQuestion(); } });
  $("paper-next").addEventListener("click", function () {
    if (state.index < state.attempt.questions.length - 1) { state.index++; renderQuestion(); }
  });

  /* -- the question grid ------------------------------------------------------------------ */
  function renderGrid() {
    var cells = $("paper-grid-cells");
    cells.innerHTML = "";
    state.attempt.questions.forEach(function (q, i) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "grid-cell"; b.textContent = String(i + 1);
      b.addEventListener("click", function () { state.index = i; closeGrid(); renderQuestion(); });
      cells.appendChild(b);
    });
  }
  function markGrid() {
    var buttons = $("paper-grid-cells").children;
    state.attempt.questions.forEach(function (q, i) {
      buttons[i].className = "grid-cell" + (answered(q) ? " grid-cell_done" : "") + (i === state.index ? " grid-cell_here" : "");
    });
  }
  function closeGrid() { $("paper-grid").hidden = true; }
  $("paper-grid-open").addEventListener("click", function () { markGrid(); $("paper-grid").hidden = false; });
  $("paper-grid-close").addEventListener("click", closeGrid);
  $("paper-grid-mask").addEventListener("click", closeGrid);

  /* -- the clock: the server's deadline, shown ------------------------------------------------ */
  function startClock() {
    stopClock();
    var deadline = Date.parse(state.attempt.deadline);
    function tick() {
      var left = Math.max(0, Math.floor((deadline - Date.now() - state.clockOffset) / 1000));
      $("paper-time").textContent = Math.floor(left / 60) + ":" + ("0" + left % 60).slice(-2);
      $("paper-time").className = left < 300 ? "paper-time_low" : "";
      if (left <= 0) { stopClock(); fail("考试时间已到，试卷已自动交卷。"); resume(state.attempt.id); }
    }
    tick();
    state.timer = setInterval(tick, 1000);
  }
  function stopClock() { if (state.timer) { clearInterval(state.timer); state.timer = null; } }

  /* -- 交卷 -------------------------------------------------------------------------------- */
  $("paper-submit").addEventListener("click", function () {
    var missing = [];
    state.attempt.questions.forEach(function (q, i) { if (!answered(q)) missing.push(i + 1); });
    // The warning first; then how many are unanswered, their numbers only when a few (≤ 10).
    $("confirm-count").textContent = !missing.length
      ? "全部 " + state.attempt.questions.length + " 题都已作答。"
      : missing.length <= 10 ? "还有 " + missing.length + " 题未作答：第 " + missing.join("、") + " 题。"
        : "还有 " + missing.length + " 题未作答，可点“题目列表”查看。";
    $("exam-confirm").hidden = false;
  });
  $("confirm-no").addEventListener("click", function () { $("exam-confirm").hidden = true; });
  $("confirm-yes").addEventListener("click", function () { $("exam-confirm").hidden = true; openPhoto("after"); });
  function submitAttempt(form) {
    busy("正在交卷…");
    api("POST", "/attempts/" + state.attempt.id + "/submit", form).then(function (r) {
      busy(null);
      if (r.status === 200) { stopClock(); showResult(r.data, false); return; }
      if (r.status === 409) { stopClock(); resume(state.attempt.id); }
      fail(r.data.error);
    });
  }

  /* -- the result ----------------------------------------------------------------------------- */
  function showResult(result, late) {
    var passed = !!result.passed;
    $("result-icon").className = (passed ? "weui-icon-success" : "weui-icon-warn") + " weui-icon_msg";
    $("result-title").textContent = passed ? "合格" : "不合格";
    $("result-score").textContent = "得分 " + result.score + " 分" +
      (result.total ? "（答对 " + result.correct + " / " + result.total + " 题）" : "");
    $("result-next").textContent = passed
      ? "恭喜您通过本专业考试！本专业继续教育已完成（公共课 16 + 专业课 40 + 考试 4 = 60 学时），学时证明已生成，可查看、下载和打印。"
      : (late ? "考试时间已到，试卷已按作答情况交卷。" : "") + "本次未达到 " + page.pass_score + " 分。补考免费、不限次数，可复习课程后再考。";
    $("result-retake").hidden = passed;
    $("result-certificate").hidden = !passed;
    show("exam-result");
  }
  $("result-retake").addEventListener("click", function () { openPhoto("before"); });

  /* -- start-up ----------------------------------------------------------------------------- */
  window.addEventListener("load", function () {
    if (!page.jssdk || !window.wx) return;
    wx.config(Object.assign({ debug: false }, page.jssdk));
    wx.ready(function () { state.wxReady = true; });
    wx.error(function () { state.wxReady = false; });
  });
  if (page.resume) resume(page.resume);
})();
