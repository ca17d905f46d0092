"""Large text as WeChat's font setting (care mode) makes it, and the checks a page must pass under it.

WeChat scales every font size of a page: on Android through the web view's text zoom, on iOS through
`-webkit-text-size-adjust`. Neither is reachable from desktop Chromium, so `text_zoom` does the same
to the page's style sheets: every font size in px (WeUI's and ours) and the root size times the
factor, layout lengths in px untouched (they are not scaled by WeChat either: that is what clips).

The checks, on what is visible:
- `overflow`: the page scrolls sideways (wider than the viewport);
- `clipped`: a button, link-button or input whose text does not fit its box, or that sticks out of the screen;
- `small_targets`: a tap target (button, link-button, input, option row) under 44 px high or wide;
- `small_text` (at 100 % only): text under 16 px;
- `low_contrast`: text under 4.5:1 against the background it sits on.
"""
from __future__ import annotations

# Scales every px font size in the page's same-origin style sheets (and the root's) by `factor`;
# idempotent per page (a second call does nothing), so it may run after each navigation.
_ZOOM = """
(factor) => {
  if (document.documentElement.dataset.textZoom) { return; }
  document.documentElement.dataset.textZoom = String(factor);
  function scale(style) {
    if (!style) { return; }
    var value = style.getPropertyValue("font-size");
    var m = /^(-?[\\d.]+)px$/.exec(value.trim());
    if (m) { style.setProperty("font-size", (parseFloat(m[1]) * factor) + "px", style.getPropertyPriority("font-size")); }
  }
  function walk(rules) {
    for (var i = 0; i < rules.length; i++) {
      var rule = rules[i];
      if (rule.style) { scale(rule.style); }
      if (rule.cssRules) { walk(rule.cssRules); }
    }
  }
  for (var i = 0; i < document.styleSheets.length; i++) {
    try { walk(document.styleSheets[i].cssRules); } catch (e) { /* another origin: none here */ }
  }
  var root = parseFloat(getComputedStyle(document.documentElement).fontSize);
  document.documentElement.style.fontSize = (root * factor) + "px";
  document.querySelectorAll("[style]").forEach(function (el) { if (el !== document.documentElement) { scale(el.style); } });
}
"""

_PROBLEMS = """
([minText, W]) => {
  // W: the phone's width as set, not innerWidth: a mobile browser widens its layout viewport
  // (zooming the page out) to fit what sticks out, which would hide the very overflow looked for.
  var out = {overflow: [], clipped: [], small_targets: [], small_text: [], low_contrast: []};
  function visible(el) {
    var r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) { return false; }
    for (var e = el; e; e = e.parentElement) {
      var s = getComputedStyle(e);
      if (s.display === "none" || s.visibility === "hidden" || s.opacity === "0") { return false; }
    }
    return true;
  }
  function name(el) {
    var id = el.id ? "#" + el.id : "";
    var cls = el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "";
    return el.tagName.toLowerCase() + id + cls + " «" + (el.innerText || el.value || "").trim().slice(0, 20) + "»";
  }
  var doc = document.documentElement;
  if (doc.scrollWidth > W + 1) { out.overflow.push("page " + doc.scrollWidth + "px > " + W + "px"); }

  var targets = document.querySelectorAll(
    "button, .weui-btn, .weui-dialog__btn, input:not([type=hidden]):not(.weui-check), select, textarea, " +
    "label.weui-cell, .grid-cell, .player-back a, .toolbar a, a[role=button]");
  targets.forEach(function (el) {
    if (!visible(el)) { return; }
    var r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > W + 1) { out.clipped.push(name(el) + " off-screen " + Math.round(r.left) + ".." + Math.round(r.right)); }
    var s = getComputedStyle(el);
    if (s.overflow !== "visible" || s.overflowX !== "visible" || s.overflowY !== "visible" || el.tagName === "BUTTON" || el.tagName === "INPUT") {
      if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
        out.clipped.push(name(el) + " text " + el.scrollWidth + "x" + el.scrollHeight + " in " + el.clientWidth + "x" + el.clientHeight);
      }
    }
    if (r.height < 44 - 0.5 || r.width < 44 - 0.5) {
      out.small_targets.push(name(el) + " " + Math.round(r.width) + "x" + Math.round(r.height));
    }
  });

  function rgba(text) {
    var m = /rgba?\\(([^)]+)\\)/.exec(text);
    if (!m) { return null; }
    var p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  }
  function background(el) {
    var layers = [];
    for (var e = el; e; e = e.parentElement) {
      var c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) { break; } }
    }
    var base = [255, 255, 255];
    for (var i = layers.length - 1; i >= 0; i--) {
      var a = layers[i][3];
      base = [0, 1, 2].map(function (k) { return layers[i][k] * a + base[k] * (1 - a); });
    }
    return base;
  }
  function lum(c) {
    var v = c.map(function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  var seen = new Set();
  while (walker.nextNode()) {
    var node = walker.currentNode;
    if (!node.textContent.trim()) { continue; }
    var el = node.parentElement;
    if (!el || seen.has(el) || !visible(el)) { continue; }
    if (el.closest("[disabled], [aria-disabled=true]")) { continue; }  // a disabled control: WCAG's exception
    if (el.closest("script, style, noscript, video, svg, [aria-hidden=true]")) { continue; }
    seen.add(el);
    var box = el.getBoundingClientRect();
    if ((box.right > W + 1 || box.left < -1) && !el.closest("[data-scrolls]")) {
      out.clipped.push(name(el) + " text beyond the screen " + Math.round(box.left) + ".." + Math.round(box.right));
    }
    var s = getComputedStyle(el);
    var size = parseFloat(s.fontSize);
    if (minText && size < minText - 0.01) { out.small_text.push(name(el) + " " + size + "px"); }
    var fg = rgba(s.color);
    if (!fg) { continue; }
    var bg = background(el);
    var col = [0, 1, 2].map(function (k) { return fg[k] * fg[3] + bg[k] * (1 - fg[3]); });
    var l1 = lum(col), l2 = lum(bg);
    var ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) { out.low_contrast.push(name(el) + " " + ratio.toFixed(2) + ":1 " + s.color); }
  }
  return out;
}
"""


def text_zoom(page, factor: float) -> None:
    """Makes the page's text `factor` times larger, as WeChat's font setting does (a no-op at 1).
    Only once the page has loaded: an element waited for can be there while a stylesheet is still on
    its way, and the zoom, which rewrites the sheets' rules, then left that sheet at 100 % (an input
    sized by one sheet held text scaled by another: 'clipped', on a loaded CI machine only)."""
    if factor != 1:
        page.wait_for_load_state("load")
        page.evaluate(_ZOOM, factor)


def problems(page, at_100_percent: bool) -> dict[str, list[str]]:
    """What is wrong with the page as it shows now; empty lists when nothing is."""
    found = page.evaluate(_PROBLEMS, [16 if at_100_percent else 0, page.viewport_size["width"]])
    return {kind: items for kind, items in found.items() if items}
