(function () {
  // [n] links in answers → the passage card in the sources panel (folded turns open on demand)
  function flash(el) {
    el.classList.remove("hdyt-flash");
    void el.offsetWidth;
    el.classList.add("hdyt-flash");
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    var a = t && t.closest ? t.closest("a.hdyt-cite, a.hdyt-rel-link") : null;
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    var id = (a.getAttribute("href") || "").replace(/^#/, "");
    var el = id ? document.getElementById(id) : null;
    if (!el) return;
    var d = el.closest("details");
    if (d && !d.open) d.open = true;
    var col = el.closest("#hdyt-sources-col");
    if (col && getComputedStyle(col).position === "sticky") {
      // scroll the sticky sources column only, not the page
      var r = el.getBoundingClientRect(), c = col.getBoundingClientRect();
      var offset = r.top - c.top - Math.max(0, (c.height - r.height) / 2);
      col.scrollTo({ top: col.scrollTop + offset, behavior: "smooth" });
    } else {
      el.scrollIntoView({ behavior: "smooth", block: "center", inline: "nearest" });
    }
    flash(el);
  }, true);

  // Messages are HTML strings: give screen readers their text, and copy text rather than markup.
  function textOf(msg) {
    var c = msg.querySelector(".message-content") || msg;
    return (c.innerText || c.textContent || "").trim();
  }
  function fixLabels() {
    document.querySelectorAll('#hdyt-chat [data-testid="user"], #hdyt-chat [data-testid="bot"]').forEach(function (m) {
      var who = m.getAttribute("data-testid") === "user" ? "Câu hỏi: " : "Trả lời: ";
      var label = who + textOf(m).slice(0, 400);
      if (m.getAttribute("aria-label") !== label) m.setAttribute("aria-label", label);
    });
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; fixLabels(); }, 250);
  }).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("click", function (ev) {
    var btn = ev.target && ev.target.closest
      ? ev.target.closest('#hdyt-chat button[aria-label="Copy message"], #hdyt-chat button[aria-label="Chép câu trả lời"]')
      : null;
    if (!btn || !navigator.clipboard) return;
    var row = btn.closest(".message-row") || btn.closest(".message-wrap");
    var prev = btn.closest(".message-buttons-right, .message-buttons-left, .message-buttons");
    var msg = (prev && prev.previousElementSibling && prev.previousElementSibling.querySelector('[data-testid]')) ||
      (row && row.querySelector('[data-testid="bot"], [data-testid="user"]'));
    if (!msg) return;
    ev.preventDefault();
    ev.stopPropagation();
    navigator.clipboard.writeText(textOf(msg)).catch(function () {});
  }, true);
})();
