"""Escaping, quote highlighting and citation links of the web UI (rag.web.render), without a server."""

from __future__ import annotations

import html
import re

import pytest

from rag.web import render
from rag.web import sources

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"


def citation(n=1, text="Bệnh viện khám 12.345 lượt. Giám đốc là BS Trần Văn Thử.", start=100, quote=None, **kw):
    quote = quote if quote is not None else "Giám đốc là BS Trần Văn Thử."
    i = text.find(quote)
    base = {
        "n": n,
        "doc_id": "doc_a",
        "title": "Báo cáo A",
        "text": text,
        "start": start,
        "end": start + len(text),
        "quote": quote,
        "quote_start": start + i if i >= 0 else None,
        "quote_end": start + i + len(quote) if i >= 0 else None,
        "score": 0.5,
    }
    base.update(kw)
    return base


def answer(text="Giám đốc là **BS Trần Văn Thử** [1].", citations=None, **kw):
    data = {
        "answer": text,
        "abstained": False,
        "rewritten_query": None,
        "citations": [citation()] if citations is None else citations,
        "related": [],
        "latency_ms": 12.0,
    }
    data.update(kw)
    return data


# -- escaping ---------------------------------------------------------------------------------------


def test_esc_escapes_html_and_quotes():
    assert render.esc('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    assert render.esc(None) == ""


def test_esc_md_neutralises_markdown_and_html_in_one_pass():
    out = render.esc_md("*đậm* [1] `code` # tiêu đề <b>&amp;</b> $$x$$")
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert "&amp;amp;" in out  # the literal "&amp;" typed by the user stays literal
    bare = re.sub(r"&#?\w+;", "", out)  # what is left outside the entities
    for ch in "*[]`#$<>":
        assert ch not in bare, ch
    assert html.unescape(out) == "*đậm* [1] `code` # tiêu đề <b>&amp;</b> $$x$$"


def test_esc_md_turns_newlines_into_br_so_the_message_stays_one_html_block():
    out = render.esc_md("dòng 1\n\ndòng 2\r\ndòng 3")
    assert "\n" not in out
    assert out.count("<br>") == 3


@pytest.mark.parametrize("payload", [XSS_IMG, XSS_SCRIPT, '"><svg onload=alert(1)>'])
def test_user_question_is_shown_as_text(payload):
    out = render.render_user_message(f"Câu hỏi {payload}")
    assert "<img" not in out and "<script" not in out and "<svg" not in out
    assert html.unescape(re.sub(r"<[^>]+>", "", out)) == f"Câu hỏi {payload}"


def test_passage_text_title_and_doc_id_are_escaped_in_sources_panel():
    text = f"Đoạn có {XSS_IMG} và {XSS_SCRIPT}. Giám đốc là BS Trần Văn Thử."
    c = citation(text=text, title=f"Tiêu đề {XSS_SCRIPT}", doc_id='x"><img src=y>')
    out = sources.render_sources([{"turn": 1, "question": f"hỏi {XSS_IMG}", "answer": answer(citations=[c])}])
    assert "<img" not in out and "<script" not in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert 'data-doc="x&quot;&gt;&lt;img src=y&gt;"' in out


def test_answer_text_from_a_document_is_escaped_in_chat_message():
    c = citation(text=f"Số liệu {XSS_IMG}: 4.321 lượt.", quote="4.321 lượt.")
    out = render.render_answer_message(answer(text=f"Kết quả {XSS_IMG} **4.321 lượt** [1]", citations=[c]), turn=3)
    assert "<img" not in out
    assert "&lt;img src&#61;x" not in out  # '=' is not touched, only HTML and Markdown punctuation
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "<strong>4.321 lượt</strong>" in out


# -- quote highlighting -----------------------------------------------------------------------------


def test_quote_highlighted_with_document_offsets():
    c = citation()
    out = render.render_passage(c["text"], c["quote"], c["quote_start"], c["quote_end"], c["start"])
    assert out == 'Bệnh viện khám 12.345 lượt. <mark class="hdyt-quote">Giám đốc là BS Trần Văn Thử.</mark>'


def test_quote_highlighted_with_passage_offsets():
    text = "Câu một. Câu hai quan trọng. Câu ba."
    a = text.index("Câu hai")
    span = render.highlight_span(text, "Câu hai quan trọng.", a, a + len("Câu hai quan trọng."), passage_start=5000)
    assert span == (a, a + len("Câu hai quan trọng."))


def test_wrong_offsets_fall_back_to_search_and_whitespace_differences():
    text = "Câu một.\nCâu   hai\nquan trọng. Câu ba."
    assert render.highlight_span(text, "Câu hai quan trọng.", 0, 3, 0) == (9, 30)


def test_missing_or_absent_quote_means_no_mark():
    assert "<mark" not in render.render_passage("Văn bản.", None)
    assert "<mark" not in render.render_passage("Văn bản.", "không có ở đây")
    assert "<mark" not in render.render_passage("Văn bản.", "   ")


def test_highlight_is_inside_escaped_text():
    text = f"Trước {XSS_SCRIPT} <b>đậm</b> sau."
    out = render.render_passage(text, "<b>đậm</b>")
    assert out == (
        "Trước &lt;script&gt;alert(1)&lt;/script&gt; "
        '<mark class="hdyt-quote">&lt;b&gt;đậm&lt;/b&gt;</mark> sau.'
    )


# -- citation links ---------------------------------------------------------------------------------


def test_markers_link_to_the_cards_of_their_turn():
    cits = [citation(1), citation(2, doc_id="doc_b", title="Báo cáo B")]
    out = render.render_answer_text("Một [1]. Hai [2]. Cả hai [1, 2].", cits, turn=4)
    assert out.count('href="#hdyt-src-4-1"') == 2
    assert out.count('href="#hdyt-src-4-2"') == 2
    assert 'class="hdyt-cite"' in out
    panel = sources.render_turn_sources(answer(citations=cits), "q", 4)
    assert 'id="hdyt-src-4-1"' in panel and 'id="hdyt-src-4-2"' in panel


def test_bracketed_number_that_is_not_a_citation_stays_text():
    out = render.render_answer_text("Điều [7] của luật [1].", [citation(1)], turn=1)
    assert "&#91;7&#93;" in out
    assert out.count("hdyt-cite") == 1


def test_bold_with_a_marker_inside():
    out = render.render_answer_text("**12.345 lượt [1]**", [citation(1)], turn=1)
    assert out.startswith('<p class="hdyt-p"><strong>12.345 lượt <a class="hdyt-cite"')


def test_message_has_source_chips_and_rewritten_query():
    out = render.render_answer_message(answer(rewritten_query="Giám đốc <Bệnh viện A> là ai?"), turn=2)
    assert "hdyt-chip" in out and 'href="#hdyt-src-2-1"' in out
    assert "Đã hiểu câu hỏi là" in out and "&lt;Bệnh viện A&gt;" in out
    assert "\n\n" not in out


# -- not found / related ----------------------------------------------------------------------------


def test_abstained_answer_shows_not_found_and_related_never_as_citations():
    rel = [citation(1, title="Có thể A"), citation(2, title="Có thể B")]
    data = answer(text="Không tìm thấy thông tin này.", citations=[], related=rel, abstained=True)
    msg = render.render_answer_message(data, turn=1)
    assert "Không tìm thấy" in msg
    assert "hdyt-cite" not in msg  # related passages are not citations
    assert "Có thể liên quan" in msg and "hdyt-rel-link" in msg
    panel = sources.render_turn_sources(data, "q", 1)
    assert "Không tìm thấy" in panel and "Có thể liên quan" in panel
    assert "hdyt-src-1-" not in panel  # no numbered source cards
    assert 'id="hdyt-rel-1-1"' in panel and "<mark" not in panel


def test_sources_panel_keeps_earlier_turns_folded():
    turns = [{"turn": i, "question": f"câu {i}", "answer": answer()} for i in (1, 2, 3)]
    out = sources.render_sources(turns, {"doc_a": ["2024-01-05"]})
    assert out.index('data-turn="3"') < out.index('data-turn="2"') < out.index('data-turn="1"')
    assert out.count("<details") == 2
    assert "05/01/2024" in out


def test_empty_panel():
    assert sources.render_sources([]) == sources.EMPTY_SOURCES_HTML


@pytest.mark.parametrize(
    ("iso", "shown"), [("2024-01-05", "05/01/2024"), ("2023-10", "10/2023"), ("2023", "2023"), ("", ""), (None, "")]
)
def test_format_date(iso, shown):
    assert render.format_date(iso) == shown


def test_accepts_pydantic_like_objects():
    class Obj:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    c = Obj(**citation())
    a = Obj(**{**answer(), "citations": [c]})
    assert 'href="#hdyt-src-1-1"' in render.render_answer_message(a, 1)
    assert "<mark" in sources.render_turn_sources(a, "q", 1)


def test_cards_show_title_date_and_name_not_ids_or_offsets():
    c = citation(doc_id="001_74a51137ac984768", start=4929)
    html_out = sources.render_sources(
        [{"turn": 1, "question": "q", "answer": answer(citations=[c])}],
        {"001_74a51137ac984768": ["2024-01-05"]},
        sources.source_names({"001_74a51137ac984768": "/corpus/001_74a51137ac984768.txt"}),
    )
    text = re.sub(r"<[^>]+>", " ", html_out)
    assert "05/01/2024" in text and "Báo cáo A" in text
    assert "001_74a51137ac984768" not in text and "ký tự" not in text and "4929" not in text
    assert 'data-doc="001_74a51137ac984768"' in html_out and 'data-start="4929"' in html_out  # kept for scripts
    assert sources.source_names({"d": "/up/bao_cao_quy_1.pdf"}) == {"d": "bao_cao_quy_1.pdf"}


def test_card_links_to_the_document_view_at_the_quote():
    c = citation(doc_id="doc a&b", start=100)
    html_out = sources.render_sources([{"turn": 1, "question": "q", "answer": answer(citations=[c])}])
    m = re.search(r'<a class="hdyt-src-open" href="([^"]+)"', html_out)
    assert m and html.unescape(m.group(1)) == f"/doc/doc%20a%26b?start=100&end={c['end']}&qs={c['quote_start']}&qe={c['quote_end']}"


def test_chips_with_the_same_title_are_told_apart():
    a = citation(n=1, doc_id="a", title="Báo cáo tổng kết công tác y tế năm 2023 của Sở Y tế tỉnh Quảng Ninh phần một")
    b = citation(n=2, doc_id="b", title="Báo cáo tổng kết công tác y tế năm 2023 của Sở Y tế tỉnh Quảng Ninh phần hai")
    labels = render.chip_labels([a, b], {"a": ["2024-01-05"], "b": ["2023-07-01"]})
    assert len(set(labels)) == 2 and "05/01/2024" in labels[0] and "01/07/2023" in labels[1]
    same_day = render.chip_labels([a, {**b, "quote": "Một câu khác hẳn."}], {})
    assert len(set(same_day)) == 2


def test_small_talk_is_shown_as_help_not_as_not_found():
    data = {"answer": "Xin chào! Bạn có thể hỏi:\n• Giám đốc là ai?", "abstained": False, "citations": [], "related": [],
            "backend": "smalltalk"}
    msg = render.render_answer_message(data, 1)
    panel = sources.render_sources([{"turn": 1, "question": "xin chào", "answer": data}])
    assert "hdyt-help" in msg and "Không tìm thấy" not in msg + panel


def test_answer_message_carries_its_turn_as_a_class():
    assert "hdyt-turn-3" in render.render_answer_message(answer(), 3)  # the sanitiser drops data-* on a div


# -- the restored question and who wrote the answer ---------------------------------------------------


def test_restored_question_is_shown_escaped_in_message_and_panel():
    data = answer(restored_query=f"bệnh viện bãi cháy {XSS_IMG}")
    msg = render.render_answer_message(data, 1)
    assert "Đã hiểu câu hỏi là: <em>bệnh viện bãi cháy &lt;img" in msg and "<img" not in msg
    panel = sources.render_sources([{"turn": 1, "question": "benh vien bai chay", "answer": data}])
    assert "câu hỏi đã thêm dấu: <em>bệnh viện bãi cháy &lt;img" in panel and "<img" not in panel


def test_the_restored_question_wins_over_the_rewrite_it_was_made_from():
    data = answer(rewritten_query="con benh vien bai chay", restored_query="còn bệnh viện bãi cháy")
    msg = render.render_answer_message(data, 1)
    assert msg.count("Đã hiểu câu hỏi là") == 1 and "<em>còn bệnh viện bãi cháy</em>" in msg
    assert "Đã hiểu câu hỏi là" not in render.render_answer_message(answer(), 1)  # typed as searched: no line


def test_provenance_notes():
    assert render.provenance_note(answer()) == ""  # no LLM configured: nothing to say
    waiting = render.render_answer_message(answer(provisional=True, backend="extractive"), 1)
    assert render.PROVISIONAL_NOTE in waiting and "đang chờ LLM" in waiting
    assert "đã đối chiếu với nguồn" in render.render_answer_message(answer(backend="llm"), 1)
    timed_out = render.render_answer_message(answer(fallback_reason="LLM call timed out after 6s (connection closed)"), 1)
    assert "Trả lời trích xuất — LLM không phản hồi kịp." in timed_out and 'title="LLM call timed out' in timed_out
    rejected = render.provenance_note(answer(fallback_reason=f'LLM answer rejected: name “{XSS_SCRIPT}” is not in the passages'))
    assert "không khớp với nguồn" in rejected and "<script>" not in rejected and "&lt;script&gt;" in rejected
    down = render.provenance_note(answer(fallback_reason="LLM server unreachable: ConnectError: refused"))
    assert "Trả lời trích xuất — LLM không phản hồi." in down
    assert "đã dừng chờ LLM" in render.STOPPED_NOTE and render.STOPPED_NOTE == render.provenance_note(
        answer(fallback_reason=render.STOPPED_REASON)
    )
