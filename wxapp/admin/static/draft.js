/* Puts back what a staff member typed into a form before the session ended (wxapp/admin/drafts.py):
   the page carries the draft as JSON; the form posting to the same address gets its values again.
   Passwords, hidden fields and files are never filled. */
(function () {
  "use strict";
  var data = document.getElementById("draft-data");
  if (!data) { return; }
  var draft = JSON.parse(data.textContent);
  var skipped = { password: true, hidden: true, file: true, submit: true, button: true };
  Array.prototype.forEach.call(document.forms, function (form) {
    if (new URL(form.action, window.location.href).pathname !== draft.action) { return; }
    Array.prototype.forEach.call(form.elements, function (el) {
      var values = draft.fields[el.name];
      if (!values || skipped[el.type]) { return; }
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = values.indexOf(el.value) >= 0;
      } else if (el.tagName === "SELECT") {
        Array.prototype.forEach.call(el.options, function (option) {
          option.selected = values.indexOf(option.value || option.text) >= 0;
        });
      } else {
        el.value = values[0];
      }
      el.classList.add("draft-restored");
    });
    form.scrollIntoView({ block: "center" });
  });
})();
