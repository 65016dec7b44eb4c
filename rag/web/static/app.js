(function () {
  // The chat page's behaviour: citations ([n] → passage, hover preview), accessibility fixes on
  // Gradio's markup, conversations kept in localStorage, export, feedback, clean copy.
  document.documentElement.lang = "vi";
  var reduced = window.matchMedia && matchMedia("(prefers-reduced-motion: reduce)").matches;
  var behavior = reduced ? "auto" : "smooth";

  function flash(el) {
    el.classList.remove("hdyt-flash");
    void el.offsetWidth;
    el.classList.add("hdyt-flash");
  }
  function cardFor(a) {
    var id = (a.getAttribute("href") || "").replace(/^#/, "");
    return id ? document.getElementById(id) : null;
  }

  // -- [n] → the passage card: the sticky column scrolls beside the chat; stacked (phone), the page does
  function reveal(el) {
    var d = el.closest("details");
    if (d && !d.open) d.open = true;
    var col = el.closest("#hdyt-sources-col");
    if (col && getComputedStyle(col).position === "sticky") {
      var r = el.getBoundingClientRect(), c = col.getBoundingClientRect();
      var offset = r.top - c.top - Math.max(0, (c.height - r.height) / 2);
      col.scrollTo({ top: col.scrollTop + offset, behavior: behavior });
    } else {
      el.scrollIntoView({ behavior: behavior, block: "center", inline: "nearest" });
    }
    flash(el);
  }
  document.addEventListener("click", function (ev) {
    var a = ev.target && ev.target.closest ? ev.target.closest("a.hdyt-cite, a.hdyt-rel-link") : null;
    if (!a) return;
    ev.preventDefault();
    ev.stopPropagation();
    hidePreview();
    var el = cardFor(a);
    if (el) reveal(el);
  }, true);

  // -- hover / keyboard focus on [n]: title, date, quote and "Xem toàn văn" without leaving the answer
  var tip = null, hideTimer = null;
  function hidePreview() {
    if (tip) { tip.remove(); tip = null; }
  }
  function showPreview(a) {
    var card = cardFor(a);
    if (!card) return;
    hidePreview();
    tip = document.createElement("div");
    tip.className = "hdyt-preview";
    tip.setAttribute("role", "tooltip");
    var title = card.querySelector(".hdyt-src-title"), meta = card.querySelector(".hdyt-src-meta");
    var quote = card.querySelector("mark.hdyt-quote") || card.querySelector(".hdyt-passage");
    var t = document.createElement("div"); t.className = "hdyt-preview-title"; t.textContent = title ? title.textContent : "";
    var m = document.createElement("div"); m.className = "hdyt-preview-meta"; m.textContent = meta ? meta.textContent : "";
    var q = document.createElement("div"); q.className = "hdyt-preview-quote";
    q.textContent = "“" + (quote ? quote.textContent.trim().slice(0, 400) : "") + "”";
    var acts = document.createElement("div"); acts.className = "hdyt-preview-actions";
    var open = card.querySelector("a.hdyt-src-open");
    if (open) {
      var o = document.createElement("a"); o.href = open.getAttribute("href"); o.target = "_blank"; o.rel = "noopener";
      o.textContent = "Xem toàn văn"; acts.appendChild(o);
    }
    tip.appendChild(t); tip.appendChild(m); tip.appendChild(q); tip.appendChild(acts);
    document.body.appendChild(tip);
    var r = a.getBoundingClientRect(), w = tip.offsetWidth, h = tip.offsetHeight;
    var left = Math.min(Math.max(8, r.left), window.innerWidth - w - 8);
    var top = r.bottom + 6 + h > window.innerHeight ? r.top - h - 6 : r.bottom + 6;
    tip.style.left = left + "px";
    tip.style.top = Math.max(8, top) + "px";
    tip.addEventListener("mouseenter", function () { clearTimeout(hideTimer); });
    tip.addEventListener("mouseleave", function () { hideTimer = setTimeout(hidePreview, 250); });
  }
  var fine = !window.matchMedia || matchMedia("(hover: hover)").matches;
  document.addEventListener("mouseover", function (ev) {
    var a = fine && ev.target.closest ? ev.target.closest("#hdyt-chat a.hdyt-cite") : null;
    if (!a) return;
    clearTimeout(hideTimer);
    showPreview(a);
  });
  document.addEventListener("mouseout", function (ev) {
    if (ev.target.closest && ev.target.closest("#hdyt-chat a.hdyt-cite")) hideTimer = setTimeout(hidePreview, 250);
  });
  document.addEventListener("focusin", function (ev) {
    var a = ev.target.closest ? ev.target.closest("#hdyt-chat a.hdyt-cite") : null;
    if (a) showPreview(a); else if (!(tip && tip.contains(ev.target))) hidePreview();
  });
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") hidePreview(); });

  // -- accessible names: messages read as text, the question box is "Câu hỏi"
  function textOf(msg) {
    var c = msg.querySelector(".message-content") || msg;
    return (c.innerText || c.textContent || "").trim();
  }
  function answerText(msg) {
    // the answer and its sources, without buttons, latency or feedback
    var bot = msg.querySelector(".hdyt-bot") || msg;
    var paras = Array.prototype.map.call(bot.querySelectorAll(".hdyt-p"), function (p) { return p.innerText.trim(); });
    var srcs = Array.prototype.map.call(bot.querySelectorAll("a.hdyt-chip"), function (c) {
      var n = c.querySelector(".hdyt-chip-n");
      return (n ? "[" + n.textContent + "] " : "- ") + (c.getAttribute("title") || c.innerText.replace(/^\d+/, "")).trim();
    });
    var text = paras.join("\n\n");
    return srcs.length ? text + "\n\nNguồn:\n" + srcs.join("\n") : text || textOf(msg);
  }
  function fixLabels() {
    var q = document.querySelector("#hdyt-question textarea");
    if (q && q.getAttribute("aria-label") !== "Câu hỏi") q.setAttribute("aria-label", "Câu hỏi");
    document.querySelectorAll('#hdyt-chat [data-testid="user"], #hdyt-chat [data-testid="bot"]').forEach(function (m) {
      var who = m.getAttribute("data-testid") === "user" ? "Câu hỏi: " : "Trả lời: ";
      var label = who + textOf(m).slice(0, 400);
      if (m.getAttribute("aria-label") !== label) m.setAttribute("aria-label", label);
    });
    addFeedback();
  }
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; fixLabels(); }, 150);
  }).observe(document.documentElement, { childList: true, subtree: true });
  document.addEventListener("click", function (ev) {
    var btn = ev.target && ev.target.closest
      ? ev.target.closest('#hdyt-chat button[aria-label="Copy message"], #hdyt-chat button[aria-label="Chép câu trả lời"]')
      : null;
    if (!btn || !navigator.clipboard) return;
    var row = btn.closest(".message-row") || btn.closest(".message-wrap");
    var prev = btn.closest(".message-buttons-right, .message-buttons-left, .message-buttons");
    var msg = (prev && prev.previousElementSibling && prev.previousElementSibling.querySelector("[data-testid]")) ||
      (row && row.querySelector('[data-testid="bot"], [data-testid="user"]'));
    if (!msg) return;
    ev.preventDefault();
    ev.stopPropagation();
    navigator.clipboard.writeText(msg.getAttribute("data-testid") === "bot" ? answerText(msg) : textOf(msg)).catch(function () {});
  }, true);

  // -- conversations: the turns (question + answer JSON) of each, in localStorage
  var KEY = "hdyt.conversations.v1", CUR = "hdyt.current.v1";
  function all() {
    try { return JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch (e) { return {}; }
  }
  function put(convs) {
    try { localStorage.setItem(KEY, JSON.stringify(convs)); } catch (e) { /* full or disabled: the page still works */ }
  }
  function current() {
    var id = localStorage.getItem(CUR);
    if (!id) { id = "c" + Date.now().toString(36); localStorage.setItem(CUR, id); }
    return id;
  }
  window.hdytSave = function (json) {
    var turns; try { turns = JSON.parse(json || "[]"); } catch (e) { return; }
    if (!turns || !turns.length) return;
    var convs = all(), id = current();
    convs[id] = { id: id, title: String(turns[0].question || "").slice(0, 80), updated: Date.now(), turns: turns };
    put(convs);
    renderList();
  };
  window.hdytLoad = function () {
    var c = all()[current()];
    return JSON.stringify(c ? c.turns : []);
  };
  window.hdytNew = function () {
    localStorage.setItem(CUR, "c" + Date.now().toString(36));
    renderList();
  };
  function download(name, type, text) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: type }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  function markdown(conv) {
    var out = ["# " + (conv.title || "Hội thoại"), "", "_Xuất từ Hỏi Đáp Y Tế, " + new Date().toLocaleString("vi-VN") + "_", ""];
    conv.turns.forEach(function (t, i) {
      var a = t.answer || {};
      out.push("## " + (i + 1) + ". " + t.question, "", a.answer || "", "");
      (a.citations || []).forEach(function (c) {
        out.push("- [" + c.n + "] " + c.title + (c.quote ? ": “" + c.quote.replace(/\s+/g, " ").trim() + "”" : ""));
      });
      out.push("");
    });
    return out.join("\n");
  }
  function exportJson(conv) {
    return JSON.stringify({ title: conv.title, exported: new Date().toISOString(), turns: conv.turns.map(function (t) {
      var a = t.answer || {};
      return { question: t.question, answer: a.answer, abstained: a.abstained, rewritten_query: a.rewritten_query,
        restored_query: a.restored_query || null, backend: a.backend, fallback_reason: a.fallback_reason || null,
        citations: a.citations || [] };
    }) }, null, 1);
  }
  function button(label, onclick, cls) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (cls) b.className = cls;
    b.addEventListener("click", onclick);
    return b;
  }
  function restoreCurrent() {
    var r = document.querySelector("#hdyt-restore");
    if (r) r.click();
  }
  function renderList() {
    var box = document.querySelector("#hdyt-convs");
    if (!box) return;
    var convs = all(), id = localStorage.getItem(CUR);
    var list = Object.keys(convs).map(function (k) { return convs[k]; }).sort(function (a, b) { return b.updated - a.updated; });
    box.textContent = "";
    var tools = document.createElement("div");
    tools.className = "hdyt-conv-tools";
    var cur = convs[id];
    var md = button("Xuất Markdown", function () { if (convs[id]) download("hoi-dap-y-te.md", "text/markdown", markdown(convs[id])); });
    var js = button("Xuất JSON", function () { if (convs[id]) download("hoi-dap-y-te.json", "application/json", exportJson(convs[id])); });
    md.id = "hdyt-export-md"; js.id = "hdyt-export-json";
    md.disabled = js.disabled = !cur;
    tools.appendChild(md); tools.appendChild(js);
    box.appendChild(tools);
    if (!list.length) return;
    var details = document.createElement("details");
    var sum = document.createElement("summary");
    sum.textContent = "Các cuộc trò chuyện trước (" + list.length + ")";
    details.appendChild(sum);
    var ul = document.createElement("div");
    ul.className = "hdyt-conv-list";
    list.slice(0, 30).forEach(function (c) {
      var b = button(c.title || "(không tên)", function () { localStorage.setItem(CUR, c.id); renderList(); restoreCurrent(); });
      if (c.id === id) b.setAttribute("aria-current", "true");
      ul.appendChild(b);
    });
    details.appendChild(ul);
    box.appendChild(details);
  }
  var listTimer = setInterval(function () {
    if (document.querySelector("#hdyt-convs")) { clearInterval(listTimer); renderList(); }
  }, 200);

  // -- feedback: 👍/👎 (inline SVG: no emoji font needed) with an optional comment on every answer
  var THUMB = '<svg viewBox="0 0 24 24" width="14" height="14" fill="none" stroke="currentColor" stroke-width="2" ' +
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M7 10v11H3V10zM7 10l4-8a3 3 0 0 1 3 3v4h5.5a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.1 21H7"/></svg>';
  var rated = {};
  function turnData(n) {
    var c = all()[current()];
    return c && c.turns[n - 1];
  }
  function send(body) {
    return fetch("/api/feedback", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json(); });
  }
  function payload(t, rating, comment) {
    var a = t.answer || {};
    return { rating: rating, question: t.question, answer: a.answer || "", abstained: !!a.abstained, comment: comment || "",
      history: t.history || [], origin: "page",
      citations: (a.citations || []).map(function (c) {
        return { n: c.n, doc_id: c.doc_id, title: c.title, quote: c.quote, start: c.start, end: c.end };
      }) };
  }
  function addFeedback() {
    document.querySelectorAll("#hdyt-chat .hdyt-msg.hdyt-answer").forEach(function (msg) {
      if (msg.querySelector(".hdyt-fb")) return;
      var m = /\bhdyt-turn-(\d+)\b/.exec(msg.className);
      if (!m) return;
      var n = Number(m[1]);
      var row = msg.querySelector(".hdyt-meta-row");
      if (!row) { row = document.createElement("div"); row.className = "hdyt-meta-row"; msg.appendChild(row); }
      var fb = document.createElement("div");
      fb.className = "hdyt-fb";
      var key = current() + ":" + n;
      if (rated[key]) { fb.appendChild(done()); row.appendChild(fb); return; }
      [["up", "Hữu ích", ""], ["down", "Không hữu ích", "transform:rotate(180deg)"]].forEach(function (spec) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "hdyt-fb-" + spec[0];
        b.setAttribute("aria-label", spec[1]);
        b.title = spec[1];
        b.innerHTML = THUMB;
        b.firstChild.setAttribute("style", spec[2]);
        b.addEventListener("click", function () { rate(msg, fb, n, spec[0]); });
        fb.appendChild(b);
      });
      row.appendChild(fb);
    });
  }
  function done() {
    var s = document.createElement("span");
    s.className = "hdyt-fb-done";
    s.textContent = "Đã ghi nhận đánh giá, cảm ơn!";
    return s;
  }
  function rate(msg, fb, n, rating) {
    var t = turnData(n);
    if (!t) return;
    var key = current() + ":" + n;
    fb.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    fb.querySelector(".hdyt-fb-" + rating).setAttribute("aria-pressed", "true");
    send(payload(t, rating, "")).then(function (res) {
      rated[key] = res.id;
      var form = document.createElement("form");
      form.className = "hdyt-fb-form";
      var input = document.createElement("input");
      input.placeholder = rating === "down" ? "Câu trả lời sai ở đâu? (không bắt buộc)" : "Góp ý thêm (không bắt buộc)";
      input.setAttribute("aria-label", "Góp ý");
      input.maxLength = 1000;
      var ok = document.createElement("button");
      ok.type = "submit";
      ok.textContent = "Gửi góp ý";
      form.appendChild(input); form.appendChild(ok);
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var p = payload(t, rating, input.value);
        p.id = res.id;
        send(p).then(function () {
          var sent = done();
          sent.textContent = "Đã gửi góp ý.";
          form.replaceWith(sent);
        });
      });
      fb.textContent = "";
      fb.appendChild(done());
      msg.appendChild(form);
    }).catch(function () { fb.querySelectorAll("button").forEach(function (b) { b.disabled = false; }); });
  }
})();
