/*!
 * Hỏi Đáp Y Tế: embeddable chat widget (no build step, no dependencies).
 *
 *   <script src="https://HOST/widget.js" data-title="Hỏi Đáp Y Tế" data-position="right" defer></script>
 *
 * Optional attributes: data-position="left|right", data-title, data-placeholder, data-greeting,
 * data-open="true" (start opened), data-api-key (only for private pages: a key in a public page is public).
 *
 * The widget talks to /api/ask on the origin this script was loaded from (with an LLM: the extractive
 * answer first, then the LLM's for its answer_id, searched once), lives in a shadow DOM
 * (the host page's CSS does not reach it and its CSS does not reach the page) and builds every
 * node with textContent: text from answers and reports is never parsed as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    var all = document.querySelectorAll('script[src*="widget.js"]');
    script = all[all.length - 1];
  }
  if (!script || window.__hdytWidgetLoaded) return;
  window.__hdytWidgetLoaded = true;

  var API_ORIGIN = new URL(script.src, document.baseURI).origin;
  var cfg = {
    title: script.getAttribute("data-title") || "Hỏi Đáp Y Tế",
    position: script.getAttribute("data-position") === "left" ? "left" : "right",
    placeholder: script.getAttribute("data-placeholder") || "Nhập câu hỏi…",
    greeting:
      script.getAttribute("data-greeting") ||
      "Xin chào! Hãy hỏi về các báo cáo của ngành y tế. Mỗi câu trả lời đều có trích dẫn nguồn [1], [2]… để bạn kiểm tra.",
    open: script.getAttribute("data-open") === "true",
    apiKey: script.getAttribute("data-api-key") || "",
  };
  var MAX_TURNS = 4; // history sent with each question
  var MAX_ANSWER_CHARS = 1200; // per remembered answer, to stay well under the server's request limit

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    // inherited properties reset here: the host page's rules on our host element must not flow in
    ".root{letter-spacing:normal;word-spacing:normal;text-transform:none;text-indent:0;text-align:left;font-style:normal;font-variant:normal;font-weight:400;white-space:normal;direction:ltr;visibility:visible;cursor:auto}",
    ".root{position:fixed;bottom:20px;z-index:2147483000;font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',Arial,sans-serif;font-size:14px;line-height:1.5;color:#1f2937;-webkit-font-smoothing:antialiased}",
    ".root.right{right:20px}.root.left{left:20px}",
    ".fab{width:58px;height:58px;border-radius:50%;border:0;cursor:pointer;background:linear-gradient(135deg,#0f766e,#0e7490);color:#fff;box-shadow:0 8px 24px rgba(15,118,110,.35);display:flex;align-items:center;justify-content:center;transition:transform .15s}",
    ".fab:hover{transform:scale(1.06)}.fab:focus-visible{outline:3px solid #99f6e4;outline-offset:2px}",
    ".fab svg{width:28px;height:28px}",
    ".panel{position:absolute;bottom:72px;width:min(390px,calc(100vw - 24px));height:min(600px,calc(100vh - 110px));background:#fff;border-radius:16px;box-shadow:0 18px 50px rgba(15,23,42,.28);display:none;flex-direction:column;overflow:hidden;border:1px solid #e5e7eb}",
    ".root.right .panel{right:0}.root.left .panel{left:0}",
    ".root.open .panel{display:flex}",
    ".head{display:flex;align-items:center;gap:10px;padding:12px 14px;background:linear-gradient(120deg,#0f766e,#0e7490);color:#fff}",
    ".head .logo{width:30px;height:30px;border-radius:8px;background:rgba(255,255,255,.18);display:flex;align-items:center;justify-content:center;font-size:17px}",
    ".head .title{flex:1;font-weight:700;font-size:15px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}",
    ".head button{display:inline-flex;align-items:center;justify-content:center;background:rgba(255,255,255,.15);border:0;color:#fff;border-radius:8px;height:30px;min-width:30px;padding:0 8px;cursor:pointer;font-size:13px}",
    ".head button:hover{background:rgba(255,255,255,.3)}",
    ".msgs{flex:1;overflow-y:auto;padding:14px;background:#f8fafc;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:92%;padding:9px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".msg.user{align-self:flex-end;background:#0f766e;color:#fff;border-bottom-right-radius:4px}",
    ".msg.bot{align-self:flex-start;background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:4px}",
    ".msg.error{border-color:#fca5a5;background:#fef2f2;color:#991b1b}",
    ".msg.notfound{border-color:#fcd34d;background:#fffbeb;color:#78350f}",
    ".nf-title{font-weight:700;display:block;margin-bottom:2px}",
    ".parts{display:flex;flex-direction:column;gap:6px;white-space:normal}",
    ".part{border:1px solid #e2e8f0;border-left:3px solid #0f766e;border-radius:8px;padding:5px 8px;background:#fff}",
    ".part.notfound{border-left-color:#f59e0b;background:#fffbeb}",
    ".part.computed{border-left-color:#1d4ed8}",
    ".part-q{font-size:12px;font-weight:600;color:#475569;margin-bottom:2px}",
    ".part-a{white-space:pre-wrap}",
    ".part-none{font-style:italic;color:#78350f}",
    ".part-arith{display:flex;gap:6px;align-items:center;margin-top:3px;font-size:12px}",
    ".part-badge{border-radius:999px;background:#dbeafe;color:#1e3a8a;font-weight:700;padding:0 6px}",
    ".part-expr{font-family:ui-monospace,monospace}",
    ".rewritten{display:block;font-size:12px;color:#475569;margin-bottom:4px;white-space:normal}",
    ".prov{display:block;font-size:11.5px;color:#475569;margin-top:6px;white-space:normal}",
    ".cite{display:inline-block;border:1px solid #99f6e4;background:#ccfbf1;color:#0f766e;font-weight:700;font-size:11px;line-height:1.5;font-family:inherit;border-radius:999px;padding:0 6px;margin:0 1px;cursor:pointer;vertical-align:super}",
    ".cite:hover,.cite[aria-expanded=true]{background:#0f766e;color:#fff}",
    ".srcs{margin-top:8px;border-top:1px dashed #e2e8f0;padding-top:6px;display:flex;flex-direction:column;gap:6px;white-space:normal}",
    ".srcs-label{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#475569;font-weight:700}",
    "details.src{border:1px solid #e2e8f0;border-radius:10px;background:#f8fafc}",
    "details.src.related{border-style:dashed}",
    "details.src>summary{cursor:pointer;padding:6px 8px;list-style:none;display:flex;gap:6px;align-items:flex-start;font-size:12.5px;font-weight:600}",
    "details.src>summary::-webkit-details-marker{display:none}",
    ".badge{flex:0 0 auto;min-width:20px;height:20px;border-radius:999px;background:#0f766e;color:#fff;font-size:11px;display:inline-flex;align-items:center;justify-content:center}",
    ".related .badge{background:#f59e0b}",
    ".passage{margin:0 8px 8px;padding:6px 8px;border-left:3px solid #5eead4;background:#fff;border-radius:0 6px 6px 0;font-size:12.5px;white-space:pre-wrap}",
    "mark{background:#fde047;color:#1c1917;border-radius:3px;padding:0 1px}",
    ".flash{box-shadow:0 0 0 3px rgba(13,148,136,.35)}",
    ".typing{display:inline-flex;gap:4px}.typing i{width:6px;height:6px;border-radius:50%;background:#94a3b8;animation:b 1s infinite}",
    ".typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}",
    "@keyframes b{0%,80%,100%{opacity:.3}40%{opacity:1}}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e5e7eb;background:#fff}",
    "textarea{flex:1;resize:none;border:1px solid #cbd5e1;border-radius:10px;padding:8px 10px;font:inherit;color:inherit;height:40px;max-height:110px;outline:none;background:#fff}",
    "textarea:focus{border-color:#0f766e;box-shadow:0 0 0 3px rgba(15,118,110,.15)}",
    "form button{border:0;border-radius:10px;background:#0f766e;color:#fff;font-weight:600;font-size:14px;font-family:inherit;padding:0 14px;cursor:pointer}",
    "form button:disabled{opacity:.5;cursor:default}",
    ".src-head{display:flex;flex-direction:column}.src-meta{font-weight:400;font-size:11.5px;color:#475569}",
    ".fb{display:flex;gap:6px;align-items:center;flex-wrap:wrap;margin-top:6px;white-space:normal}",
    ".fb-btn{display:inline-flex;align-items:center;border:1px solid #cbd5e1;background:#fff;color:#475569;border-radius:8px;padding:3px 7px;cursor:pointer}",
    ".fb-btn:hover{border-color:#0f766e;color:#0f766e}.fb-done{font-size:12px;color:#115e59}",
    ".fb-form{display:flex;gap:6px;width:100%}.fb-form input{flex:1;min-width:0;border:1px solid #cbd5e1;border-radius:8px;padding:4px 8px;font:inherit;font-size:12.5px}",
    ".fb-form button{border:0;border-radius:8px;background:#0f766e;color:#fff;padding:4px 10px;cursor:pointer;font:inherit;font-size:12.5px}",
    "button:focus-visible,textarea:focus-visible,input:focus-visible,summary:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}",
    "@media (prefers-reduced-motion: reduce){*{animation:none!important;transition:none!important}}",
    ".foot{font-size:11px;color:#475569;text-align:center;padding:0 10px 8px;background:#fff}",
  ].join("\n");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  // A 24×24 icon from one path: text glyphs and emoji need a font that may be missing.
  function svgIcon(d, filled) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("fill", filled ? "currentColor" : "none");
    svg.setAttribute("stroke", filled ? "none" : "currentColor");
    svg.setAttribute("stroke-width", "2");
    svg.setAttribute("stroke-linecap", "round");
    svg.setAttribute("stroke-linejoin", "round");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }
  var THUMB = "M7 10v11H3V10zM7 10l4-8a3 3 0 0 1 3 3v4h5.5a2 2 0 0 1 2 2.3l-1.4 8A2 2 0 0 1 18.1 21H7";

  function formatDate(iso) {
    var m = /^(\d{4})-(\d{2})(?:-(\d{2}))?/.exec(iso || "");
    return !m ? "" : m[3] ? m[3] + "/" + m[2] + "/" + m[1] : m[2] + "/" + m[1];
  }

  // Where the supporting quote lies in the passage (passage offsets), or null.
  function quoteSpan(c) {
    var text = c.text || "", q = c.quote || "";
    if (!text || !q.trim()) return null;
    var norm = function (s) { return s.split(/\s+/).join(" ").trim(); };
    var tries = [];
    if (typeof c.quote_start === "number" && typeof c.quote_end === "number") {
      if (typeof c.start === "number") tries.push([c.quote_start - c.start, c.quote_end - c.start]);
      tries.push([c.quote_start, c.quote_end]);
    }
    for (var i = 0; i < tries.length; i++) {
      var a = tries[i][0], b = tries[i][1];
      if (a >= 0 && b > a && b <= text.length && norm(text.slice(a, b)) === norm(q)) return [a, b];
    }
    var at = text.indexOf(q);
    if (at >= 0) return [at, at + q.length];
    var words = q.trim().split(/\s+/).map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
    var m = new RegExp(words.join("\\s+")).exec(text);
    return m ? [m.index, m.index + m[0].length] : null;
  }

  function passageNode(c, highlight) {
    var box = el("div", "passage");
    var text = c.text || "";
    var span = highlight ? quoteSpan(c) : null;
    if (!span) {
      box.textContent = text;
      return box;
    }
    box.appendChild(document.createTextNode(text.slice(0, span[0])));
    box.appendChild(el("mark", null, text.slice(span[0], span[1])));
    box.appendChild(document.createTextNode(text.slice(span[1])));
    return box;
  }

  // Answer text → text nodes, <strong> for **bold**, buttons for cited [n].
  function answerNodes(text, byN, onCite) {
    var frag = document.createDocumentFragment();
    var re = /\*\*([\s\S]+?)\*\*|\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]/g;
    var pos = 0, m;
    function refs(parent, group, raw) {
      var ns = group.split(/\s*[,;]\s*/).map(Number);
      var ok = ns.every(function (n) { return byN[n]; });
      if (!ok) { parent.appendChild(document.createTextNode(raw)); return; }
      ns.forEach(function (n) {
        var b = el("button", "cite", "[" + n + "]");
        b.type = "button";
        b.title = byN[n].title || "";
        b.setAttribute("aria-expanded", "false");
        b.setAttribute("data-n", String(n));
        b.addEventListener("click", function () { onCite(n, b); });
        parent.appendChild(b);
      });
    }
    while ((m = re.exec(text))) {
      frag.appendChild(document.createTextNode(text.slice(pos, m.index)));
      if (m[1] != null) {
        var strong = el("strong");
        var inner = /\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]/g, p2 = 0, m2;
        while ((m2 = inner.exec(m[1]))) {
          strong.appendChild(document.createTextNode(m[1].slice(p2, m2.index)));
          refs(strong, m2[1], m2[0]);
          p2 = m2.index + m2[0].length;
        }
        strong.appendChild(document.createTextNode(m[1].slice(p2)));
        frag.appendChild(strong);
      } else {
        refs(frag, m[2], m[0]);
      }
      pos = m.index + m[0].length;
    }
    frag.appendChild(document.createTextNode(text.slice(pos)));
    return frag;
  }

  // A compound question's parts (or a computed comparison's operands and result), each its own block,
  // as rag.web.render.render_parts shows them on the chat page: the computed result first, a part
  // the reports do not answer marked "không tìm thấy" instead of its long not-found line.
  function partsNode(answerParts, byN, onCite) {
    var box = el("div", "parts");
    var ordered = answerParts.filter(function (p) { return p.computed; })
      .concat(answerParts.filter(function (p) { return !p.computed; }));
    ordered.forEach(function (part) {
      var block = el("div", "part" + (part.computed ? " computed" : part.abstained ? " notfound" : ""));
      block.appendChild(el("div", "part-q", part.question || ""));
      var lines = String(part.answer || "").split("\n")
        .filter(function (l) { return l.trim(); })
        .map(function (l) { return l.replace(/^-\s+/, "").trim(); });
      if (part.not_found) {
        block.appendChild(el("div", "part-a part-none", "không tìm thấy"));
      } else {
        lines.forEach(function (line) {
          var a = el("div", "part-a");
          a.appendChild(answerNodes(line, byN, onCite));
          block.appendChild(a);
        });
      }
      if (part.computed) {
        var arith = el("div", "part-arith");
        arith.appendChild(el("span", "part-badge", "đã tính"));
        arith.appendChild(el("code", "part-expr", part.computed));
        block.appendChild(arith);
      }
      box.appendChild(block);
    });
    return box;
  }

  function sourceItem(c, label, related, docs) {
    var d = el("details", "src" + (related ? " related" : ""));
    var s = el("summary");
    s.appendChild(el("span", "badge", label));
    var head = el("span", "src-head");
    head.appendChild(el("span", "src-title", c.title || c.doc_id || ""));
    var meta = (docs || {})[c.doc_id] || {};
    var name = /^(\d+_)?[0-9a-f]{12,}\.\w+$/i.test(meta.source_name || "") ? "" : meta.source_name; // an id, not a name
    var line = [formatDate(meta.date), name].filter(Boolean).join(" · ");
    if (line) head.appendChild(el("span", "src-meta", line));
    s.appendChild(head);
    d.appendChild(s);
    d.appendChild(passageNode(c, !related));
    return d;
  }

  // 👍/👎 with an optional comment, sent to /api/feedback on the same origin as /api/ask
  function feedbackRow(question, data, sentHistory) {
    var row = el("div", "fb");
    function post(body) {
      var h = { "Content-Type": "application/json" };
      return fetch(API_ORIGIN + "/api/feedback", { method: "POST", headers: h, body: JSON.stringify(body), credentials: "omit", mode: "cors" })
        .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); });
    }
    function body(rating, comment) {
      return { rating: rating, question: question, answer: String(data.answer || "").slice(0, 8000), abstained: !!data.abstained,
        comment: comment || "", history: sentHistory, origin: "widget",
        citations: (data.citations || []).map(function (c) {
          return { n: c.n, doc_id: c.doc_id, title: c.title, quote: c.quote, start: c.start, end: c.end };
        }) };
    }
    [["up", "Hữu ích", false], ["down", "Không hữu ích", true]].forEach(function (spec) {
      var b = el("button", "fb-btn fb-" + spec[0]);
      b.type = "button";
      b.title = spec[1];
      b.setAttribute("aria-label", spec[1]);
      var icon = svgIcon(THUMB, false);
      if (spec[2]) icon.setAttribute("style", "transform:rotate(180deg)");
      b.appendChild(icon);
      b.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        post(body(spec[0], "")).then(function (res) {
          row.textContent = "";
          row.appendChild(el("span", "fb-done", "Cảm ơn bạn đã đánh giá!"));
          var f = el("form", "fb-form");
          var i = el("input");
          i.placeholder = "Góp ý (không bắt buộc)";
          i.setAttribute("aria-label", "Góp ý");
          i.maxLength = 1000;
          var ok = el("button", null, "Gửi");
          ok.type = "submit";
          f.appendChild(i);
          f.appendChild(ok);
          f.addEventListener("submit", function (ev) {
            ev.preventDefault();
            ev.stopPropagation();
            var p = body(spec[0], i.value);
            p.id = res.id;
            post(p).then(function () { f.replaceWith(el("span", "fb-done", "Đã gửi góp ý.")); });
          });
          row.appendChild(f);
          f.scrollIntoView({ block: "nearest" });
        }).catch(function () { row.querySelectorAll("button").forEach(function (x) { x.disabled = false; }); });
      });
      row.appendChild(b);
    });
    return row;
  }

  // -- build -------------------------------------------------------------------------------------

  var host = document.createElement("hdyt-chat-widget"); // not a <div>: host-page div rules do not match it
  host.id = "hdyt-widget";
  host.setAttribute("data-hdyt-widget", "");
  var shadow = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent = CSS;
  shadow.appendChild(style);

  var root = el("div", "root " + cfg.position);
  var panel = el("div", "panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", cfg.title);
  var head = el("div", "head");
  var logo = el("div", "logo");
  logo.appendChild(svgIcon("M9 3h6v6h6v6h-6v6H9v-6H3V9h6z", true));
  head.appendChild(logo);
  head.appendChild(el("div", "title", cfg.title));
  var resetBtn = el("button");
  resetBtn.appendChild(svgIcon("M3 12a9 9 0 1 0 3-6.7L3 8M3 3v5h5", false));
  resetBtn.type = "button";
  resetBtn.title = "Cuộc trò chuyện mới";
  resetBtn.setAttribute("aria-label", "Cuộc trò chuyện mới");
  var closeBtn = el("button");
  closeBtn.appendChild(svgIcon("M6 6l12 12M18 6L6 18", false));
  closeBtn.type = "button";
  closeBtn.title = "Đóng";
  closeBtn.setAttribute("aria-label", "Đóng");
  head.appendChild(resetBtn);
  head.appendChild(closeBtn);
  var msgs = el("div", "msgs");
  msgs.setAttribute("aria-live", "polite");
  var form = el("form");
  var input = el("textarea");
  input.placeholder = cfg.placeholder;
  input.rows = 1;
  input.setAttribute("aria-label", "Câu hỏi");
  input.maxLength = 2000;
  var send = el("button", null, "Gửi");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(msgs);
  panel.appendChild(form);
  panel.appendChild(el("div", "foot", "Trả lời từ báo cáo ngành y tế · bấm [n] để xem nguồn"));
  var fab = el("button", "fab");
  fab.type = "button";
  fab.setAttribute("aria-label", "Mở " + cfg.title);
  fab.setAttribute("aria-expanded", "false");
  fab.appendChild(svgIcon("M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12zM12 8v8M8 12h8", false));
  root.appendChild(panel);
  root.appendChild(fab);
  shadow.appendChild(root);

  var history = [];
  var busy = false;

  function scrollDown() { msgs.scrollTop = msgs.scrollHeight; }

  function greet() {
    msgs.textContent = "";
    msgs.appendChild(el("div", "msg bot", cfg.greeting));
  }

  function setOpen(open) {
    root.classList.toggle("open", open);
    fab.setAttribute("aria-expanded", String(open));
    if (open) setTimeout(function () { input.focus(); }, 30);
  }

  // Who wrote the answer (as rag.web.render.provenance_note says it on the page); "" without an LLM
  var FALLBACK_WHY = [["rejected", "câu trả lời của LLM không khớp với nguồn"], ["says nothing", "câu trả lời của LLM không khớp với nguồn"],
    ["found no answer", "LLM không tìm thấy câu trả lời"], ["timed out", "LLM không phản hồi kịp"], ["no passages", "không có đoạn văn nào để LLM đọc"]];
  function provenance(data, provisional) {
    if (provisional) return "Trả lời trích xuất · đang chờ LLM viết và kiểm chứng…";
    if (data.backend === "llm") return "Trả lời do LLM viết, đã đối chiếu với nguồn trích dẫn.";
    var reason = data.fallback_reason || "";
    if (!reason) return "";
    var hit = FALLBACK_WHY.filter(function (w) { return reason.indexOf(w[0]) >= 0; })[0];
    return "Trả lời trích xuất — " + (hit ? hit[1] : "LLM không phản hồi") + ".";
  }

  function renderAnswer(bubble, data, provisional) {
    bubble.textContent = "";
    bubble.classList.remove("notfound");
    var citations = data.citations || [];
    var byN = {};
    citations.forEach(function (c) { byN[c.n] = c; });
    var understood = data.restored_query || data.rewritten_query; // accents restored, or a follow-up made whole
    if (understood) bubble.appendChild(el("span", "rewritten", "Đã hiểu câu hỏi là: " + understood));
    if (data.abstained) {
      bubble.classList.add("notfound");
      bubble.appendChild(el("span", "nf-title", "Không tìm thấy"));
    }
    var items = {};
    function onCite(n, btn) {
      var d = items[n];
      if (!d) return;
      d.open = !d.open || btn.getAttribute("aria-expanded") !== "true";
      btn.setAttribute("aria-expanded", String(d.open));
      d.classList.remove("flash");
      void d.offsetWidth;
      d.classList.add("flash");
      d.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
    var answerParts = data.parts || [];
    if (answerParts.length && data.backend !== "llm") bubble.appendChild(partsNode(answerParts, byN, onCite)); // an LLM answer is its own text
    else bubble.appendChild(answerNodes(data.answer || "", byN, onCite));
    if (citations.length) {
      var box = el("div", "srcs");
      box.appendChild(el("div", "srcs-label", "Nguồn"));
      citations.forEach(function (c) {
        var d = sourceItem(c, String(c.n), false, data.documents);
        items[c.n] = d;
        box.appendChild(d);
      });
      bubble.appendChild(box);
    } else if ((data.related || []).length) {
      var rbox = el("div", "srcs");
      rbox.appendChild(el("div", "srcs-label", "Có thể liên quan (không phải trích dẫn)"));
      data.related.forEach(function (c) { rbox.appendChild(sourceItem(c, "?", true, data.documents)); });
      bubble.appendChild(rbox);
    }
    var note = provenance(data, provisional);
    if (note) bubble.appendChild(el("span", "prov" + (provisional ? " provisional" : ""), note));
  }

  // whether the server asks an LLM (then the extractive answer is shown first): /api/health, once
  var llmOn = null;
  function llmConfigured() {
    llmOn = llmOn || fetch(API_ORIGIN + "/api/health", { credentials: "omit", mode: "cors" })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (h) { return !!h.answer_backend && h.answer_backend !== "extractive"; })
      .catch(function () { return false; });
    return llmOn;
  }

  function errorText(status, body, headers) {
    var msg = body && body.error && body.error.message;
    if (status === 429) {
      var s = headers.get("Retry-After");
      return "Bạn hỏi quá nhanh, vui lòng thử lại sau " + (s || "ít") + " giây.";
    }
    if (status === 401) return "Trang này chưa được cấp quyền dùng trợ lý (khóa API).";
    return msg || "Không kết nối được máy chủ (" + status + ").";
  }

  function ask(question) {
    if (busy) return;
    busy = true;
    send.disabled = true;
    msgs.appendChild(el("div", "msg user", question));
    var bubble = el("div", "msg bot");
    var typing = el("span", "typing");
    typing.appendChild(el("i"));
    typing.appendChild(el("i"));
    typing.appendChild(el("i"));
    bubble.appendChild(typing);
    msgs.appendChild(bubble);
    scrollDown();
    var sent = history.slice(-MAX_TURNS);
    var headers = { "Content-Type": "application/json" };
    if (cfg.apiKey) headers["X-API-Key"] = cfg.apiKey;
    function post(waitForLlm, answerId) {
      return fetch(API_ORIGIN + "/api/ask", {
        method: "POST",
        headers: headers,
        body: JSON.stringify({ question: question, history: sent, wait_for_llm: waitForLlm, answer_id: answerId }),
        credentials: "omit",
        mode: "cors",
      }).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) {
          if (!r.ok) throw new Error(errorText(r.status, body, r.headers));
          return body;
        });
      });
    }
    function done(data) {
      renderAnswer(bubble, data, false);
      bubble.appendChild(feedbackRow(question, data, sent));
      history.push([question, String(data.answer || "").slice(0, MAX_ANSWER_CHARS)]);
    }
    llmConfigured()
      .then(function (on) {
        if (!on) return post(true).then(done);
        // the extractive answer at once, then the verified LLM answer (or the reason it is not shown):
        // the second call names the first answer's answer_id, so the server does not search again
        return post(false).then(function (first) {
          if (!first.answer_id) return done(first); // final already (small talk, or the LLM unavailable)
          renderAnswer(bubble, first, true);
          scrollDown();
          return post(true, first.answer_id).then(done, function () {
            done(Object.assign({}, first, { fallback_reason: "unreachable" }));
          });
        });
      })
      .catch(function (err) {
        bubble.textContent = "";
        bubble.classList.add("error");
        bubble.textContent = err && err.message && err.message !== "Failed to fetch"
          ? err.message
          : "Không kết nối được máy chủ trợ lý.";
      })
      .then(function () {
        busy = false;
        send.disabled = false;
        scrollDown();
      });
  }

  fab.addEventListener("click", function () { setOpen(!root.classList.contains("open")); });
  closeBtn.addEventListener("click", function () { setOpen(false); fab.focus(); });
  resetBtn.addEventListener("click", function () { history = []; greet(); input.focus(); });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = input.value.trim();
    if (!q) return;
    input.value = "";
    ask(q);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  root.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && root.classList.contains("open")) { setOpen(false); fab.focus(); }
  });

  greet();
  function mount() {
    document.body.appendChild(host);
    if (cfg.open) setOpen(true);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
