/* The development phone simulator (/dev/phone): the persona's chat with the account, its menu,
   the in-app browser (through /dev/oauth as the persona), 扫一扫 (jsQR decodes the QR shown in
   the phone), and what the server sent the persona (polled from the sandbox log). Each persona's
   chat is kept in this browser's localStorage, per instance/. */
(function () {
  "use strict";

  var phone = document.getElementById("phone");
  var sendUrl = phone.dataset.sendUrl, inboxUrl = phone.dataset.inboxUrl, oauthUrl = phone.dataset.oauthUrl;
  var publicBase = phone.dataset.publicBase.replace(/\/$/, "");
  var persona = document.getElementById("persona");
  var messages = document.getElementById("messages");
  var profile = document.getElementById("profile");
  var submenu = document.getElementById("submenu");
  var web = document.getElementById("web");
  var scanned = document.getElementById("scanned");
  var chats = {};
  var STORE = "devphone:" + phone.dataset.instance; // a fresh instance/ starts with empty chats

  function $(id) { return document.getElementById(id); }
  function openid() { return persona.value; }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function toast(text) {
    $("toast").textContent = text;
    $("toast").hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { $("toast").hidden = true; }, 2500);
  }

  // -- chats ------------------------------------------------------------------------------

  function load() {
    try { chats = JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { chats = {}; }
  }
  function save() { localStorage.setItem(STORE, JSON.stringify(chats)); }
  function mine() { return chats[openid()] || (chats[openid()] = { items: [], seen: {} }); }

  function add(item) {
    mine().items.push(item);
    save();
    draw(item);
  }

  function redraw() {
    Array.prototype.slice.call(messages.querySelectorAll(".msg, .system")).forEach(function (n) { n.remove(); });
    mine().items.forEach(draw);
    var option = persona.options[persona.selectedIndex];
    $("persona-facts").textContent = option.dataset.phone
      ? "认证用（虚构）：手机 " + option.dataset.phone + " · 身份证 " + option.dataset.idCard
      : "未报名的微信用户：认证登录会被拒绝";
    profile.hidden = mine().items.length > 0; // a persona that never chatted sees 关注公众号 first
  }

  // -- drawing messages ---------------------------------------------------------------------

  function segments(parent, pieces) {
    pieces.forEach(function (piece) {
      if (!piece[1]) { parent.appendChild(document.createTextNode(piece[0])); return; }
      var a = el("a", "", piece[0]);
      a.href = piece[1];
      a.addEventListener("click", function (event) { event.preventDefault(); openPage(piece[1]); });
      parent.appendChild(a);
    });
  }

  function row(out, content) {
    var line = el("div", "msg " + (out ? "msg_out" : "msg_in"));
    line.appendChild(el("div", "msg__avatar", out ? "我" : "智"));
    line.appendChild(content);
    messages.appendChild(line);
    messages.scrollTop = messages.scrollHeight;
    return line;
  }

  function card(title, lines, url, cls) {
    var box = el("div", "card " + (cls || ""));
    box.appendChild(el("div", "card__title", title));
    var body = el("div", "card__lines");
    lines.forEach(function (line) { body.appendChild(el("div", "", line)); });
    box.appendChild(body);
    if (url) {
      box.appendChild(el("div", "card__more", "详情 ›"));
      box.addEventListener("click", function () { openPage(url); });
    }
    return box;
  }

  function draw(item) {
    if (item.kind === "system") {
      messages.appendChild(el("div", "system", item.text));
    } else if (item.kind === "out") {
      row(true, el("div", "bubble", item.text));
    } else if (item.kind === "text") {
      var bubble = el("div", "bubble");
      segments(bubble, item.segments);
      row(false, bubble);
    } else if (item.kind === "news") {
      item.articles.forEach(function (article) {
        var box = el("div", "card card_news");
        box.appendChild(el("div", "card__title", article.title));
        var body = el("div", "card__body");
        body.appendChild(el("div", "", article.description));
        if (article.image) { var img = el("img"); img.src = article.image; img.alt = ""; body.appendChild(img); }
        box.appendChild(body);
        box.addEventListener("click", function () { openPage(article.url); });
        row(false, box);
      });
    } else if (item.kind === "template") {
      row(false, card(item.title, item.lines, item.url, "card_template"));
    } else if (item.kind === "sms") {
      row(false, card(item.title, item.lines, "", "card_sms"));
    }
    messages.scrollTop = messages.scrollHeight;
    profile.hidden = mine().items.length > 0;
  }

  // -- talking to /wechat -------------------------------------------------------------------

  function send(payload, shown) {
    payload.openid = openid();
    if (shown) { add(shown); }
    return fetch(sendUrl, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload)
    }).then(function (response) { return response.json(); }).then(function (answer) {
      if (answer.error) { toast(answer.error); return; }
      if (!shown) { add({ kind: "system", text: answer.sent }); }
      if (!answer.reply) {
        if (answer.status !== 200) { add({ kind: "system", text: "（回调状态 " + answer.status + "）" }); }
        return;
      }
      add(answer.reply.type === "text" ? { kind: "text", segments: answer.reply.segments }
                                       : { kind: "news", articles: answer.reply.articles });
    })["catch"](function () { toast("发送失败：开发服务器无应答"); });
  }

  function click(button) {
    submenu.hidden = true;
    if (button.url) { openPage(button.url); return; }
    if (button.key) { send({ key: button.key }); }
  }

  Array.prototype.forEach.call(document.querySelectorAll(".menubar__item"), function (node) {
    node.addEventListener("click", function () {
      var top = window.MENU[parseInt(node.dataset.index, 10)];
      if (!top.sub_button) { click(top); return; }
      if (!submenu.hidden && submenu.dataset.index === node.dataset.index) { submenu.hidden = true; return; }
      submenu.textContent = "";
      submenu.dataset.index = node.dataset.index;
      top.sub_button.forEach(function (sub) {
        var item = el("button", "", sub.name);
        item.type = "button";
        item.addEventListener("click", function () { click(sub); });
        submenu.appendChild(item);
      });
      submenu.style.left = Math.max(4, node.offsetLeft + node.offsetWidth / 2 - 60) + "px";
      submenu.hidden = false;
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-event]"), function (node) {
    node.addEventListener("click", function () {
      $("more-panel").hidden = true;
      send({ event: node.dataset.event });
    });
  });
  $("more").addEventListener("click", function () { $("more-panel").hidden = !$("more-panel").hidden; });
  $("clear").addEventListener("click", function () {
    chats[openid()] = { items: [], seen: mine().seen };
    save();
    $("more-panel").hidden = true;
    redraw();
  });
  $("to-keyboard").addEventListener("click", function () { $("menubar").hidden = true; $("inputbar").hidden = false; $("text").focus(); });
  $("to-menu").addEventListener("click", function () { $("inputbar").hidden = true; $("menubar").hidden = false; });
  $("inputbar").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = $("text").value;
    if (!text.trim()) { return; }
    $("text").value = "";
    send({ text: text }, { kind: "out", text: text });
  });
  persona.addEventListener("change", function () {
    closeWeb();
    redraw();
    poll();
  });

  // -- the in-app browser, through the sandbox's OAuth as the persona -------------------------

  function ownPath(url) {
    var origin = window.location.origin;
    if (url.indexOf(publicBase + "/") === 0) { return url.slice(publicBase.length); }
    if (url.indexOf(origin + "/") === 0) { return url.slice(origin.length); }
    if (url.charAt(0) === "/" && url.charAt(1) !== "/") { return url; }
    return null;
  }

  function asPersona(url) {
    var path = ownPath(url);
    if (path === null) { return null; }
    // Slashes stay as they are, so that the access log's mask of /h5/attend/<token> still applies.
    return oauthUrl + "?openid=" + encodeURIComponent(openid()) + "&next=" + encodeURIComponent(path).replace(/%2F/g, "/");
  }

  function openPage(url) {
    var target = asPersona(url);
    if (target === null) { window.open(url, "_blank", "noopener"); return; }
    $("web-title").textContent = "";
    web.src = target;
    $("web-view").hidden = false;
  }

  function closeWeb() {
    web.src = "about:blank";
    scanned.src = "about:blank";
    $("web-view").hidden = true;
    $("scan-view").hidden = true;
  }

  web.addEventListener("load", function () {
    try { $("web-title").textContent = web.contentDocument.title; } catch (e) { /* another origin */ }
  });
  scanned.addEventListener("load", function () {
    try { $("scan-title").textContent = scanned.contentDocument.title || "扫码打开"; } catch (e) { /* another origin */ }
  });
  $("web-close").addEventListener("click", closeWeb);
  $("scan-close").addEventListener("click", function () { scanned.src = "about:blank"; $("scan-view").hidden = true; });

  // -- 扫一扫: decode a QR code shown in the phone, open it in the persona's WeChat -------------

  function decode(img) {
    if (!img.complete || !img.naturalWidth) { return null; }
    var canvas = document.createElement("canvas");
    var margin = 16; // a quiet zone, as a camera would see around the code
    canvas.width = img.naturalWidth + 2 * margin;
    canvas.height = img.naturalHeight + 2 * margin;
    var context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(img, margin, margin);
    var pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    var found = window.jsQR(pixels.data, pixels.width, pixels.height);
    return found ? found.data : null;
  }

  function visible(node) {
    var box = node.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  }

  // An inline <svg> (the certificate's verification QR) as an image: serialized to a data: URL at a
  // size a camera would resolve, so that decode() reads its pixels like any <img>.
  function svgImage(svg) {
    return new Promise(function (resolve) {
      var copy = svg.cloneNode(true);
      var side = Math.max(300, Math.round(svg.getBoundingClientRect().width * 2));
      copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
      copy.setAttribute("width", side);
      copy.setAttribute("height", side);
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { resolve(null); };
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(copy));
    });
  }

  function qrText(doc) {
    var images = doc ? Array.prototype.filter.call(doc.images, visible) : [];
    for (var i = 0; i < images.length; i += 1) {
      var text = decode(images[i]);
      if (text !== null) { return Promise.resolve(text); }
    }
    var svgs = doc ? Array.prototype.filter.call(doc.querySelectorAll("svg"), visible) : [];
    return svgs.reduce(function (found, svg) {
      return found.then(function (text) {
        if (text !== null) { return text; }
        return svgImage(svg).then(function (img) { return img ? decode(img) : null; });
      });
    }, Promise.resolve(null));
  }

  $("scan").addEventListener("click", function () {
    var doc;
    try { doc = web.contentDocument; } catch (e) { doc = null; }
    qrText(doc).then(function (text) {
      if (text === null) { toast("没有识别到二维码"); return; }
      var target = asPersona(text);
      if (target === null) { toast("二维码内容：" + text); return; }
      $("scan-title").textContent = "扫码打开";
      scanned.src = target;
      $("scan-view").hidden = false;
    });
  });

  // -- what the server sent the persona --------------------------------------------------------

  // Personas polled at least once since the page loaded: a text arriving after that also drops
  // down over whatever is open, as a phone shows a new SMS over WeChat (a move's code is read so).
  var polled = {};

  function poll() {
    var who = openid();
    fetch(inboxUrl + "?openid=" + encodeURIComponent(who)).then(function (r) { return r.json(); }).then(function (items) {
      if (who !== openid()) { return; }
      items.forEach(function (item) {
        if (mine().seen[item.id]) { return; }
        mine().seen[item.id] = true;
        add(item);
        if (item.kind === "sms" && polled[who]) { smsBanner(item); }
      });
      polled[who] = true;
      save();
    })["catch"](function () { /* the next poll tries again */ });
  }

  function smsBanner(item) {
    var banner = $("sms-banner");
    banner.textContent = "";
    banner.appendChild(el("div", "sms-banner__title", item.title));
    banner.appendChild(el("div", "sms-banner__text", item.lines.join("\n")));
    banner.hidden = false;
    clearTimeout(smsBanner.timer);
    smsBanner.timer = setTimeout(function () { banner.hidden = true; }, 20000);
  }
  $("sms-banner").addEventListener("click", function () { $("sms-banner").hidden = true; });

  load();
  redraw();
  poll();
  setInterval(poll, 2000);
}());
