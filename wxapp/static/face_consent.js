/* 考试须知：人脸比对 — records the trainee's separate consent (POST /api/exams/face-consent) and,
   until it is given, keeps the exam's start buttons from starting (the server refuses anyway). */
(function () {
  "use strict";
  var box = document.getElementById("face-consent");
  if (!box) { return; }
  var check = document.getElementById("face-consent-check");
  var go = document.getElementById("face-consent-go");
  var msg = document.getElementById("face-consent-msg");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function consented() { return box.getAttribute("data-consented") === "yes"; }

  if (check && go) {
    check.addEventListener("change", function () { go.disabled = !check.checked; });
    go.addEventListener("click", function () {
      go.disabled = true;
      fetch("/api/exams/face-consent", {method: "POST", credentials: "same-origin",
                                        headers: {"X-CSRFToken": csrf, "Accept": "application/json"}})
        .then(function (r) {
          if (!r.ok) { throw new Error(String(r.status)); }
          box.setAttribute("data-consented", "yes");
          document.getElementById("face-consent-form").hidden = true;
          document.getElementById("face-consent-done").hidden = false;
        })
        .catch(function () { msg.textContent = "提交失败，请检查网络后重试。"; go.disabled = !check.checked; });
    });
  }

  // Capture phase: runs before the page's own start handlers.
  window.addEventListener("click", function (event) {
    var target = event.target && event.target.closest ? event.target.closest(".exam-start") : null;
    if (!target || consented()) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (msg) { msg.textContent = "开始考试前，请先阅读考试须知，勾选并点击“同意并继续”。"; }
    box.scrollIntoView({behavior: "smooth", block: "start"});
  }, true);
})();
