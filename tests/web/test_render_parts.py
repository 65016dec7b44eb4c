"""The parts of an answer rendered as their own blocks (rag.web.render.render_parts): question,
answer or "không tìm thấy", [n] links, a computed part's arithmetic marked "đã tính"; escaped."""

from __future__ import annotations

import re

from rag.web.render import render_answer_message, render_parts

CITATIONS = [{"n": 1, "title": "Báo cáo A"}, {"n": 2, "title": "Báo cáo B"}]
PARTS = [
    {"question": "Số lượt khám của A bao nhiêu", "answer": "**250.000 lượt** — “A đã khám 250.000 lượt.” [1]",
     "abstained": False, "citations": [1], "computed": None},
    {"question": "Số lượt khám của B bao nhiêu", "answer": "**212.480 lượt** — “B đã khám 212.480 lượt.” [2]",
     "abstained": False, "citations": [2], "computed": None},
    {"question": "A cao hơn B bao nhiêu lượt?", "answer": "Tính từ hai số liệu trích dẫn: 250.000 − 212.480 = **37.520** lượt [1][2]",
     "abstained": False, "citations": [1, 2], "computed": "250.000 − 212.480 = 37.520"},
]


_BLOCK = re.compile(r'<div class="hdyt-part(?: hdyt-part-(?:computed|notfound))?">')


def _blocks(html: str) -> list[str]:
    """The part blocks' HTML, in order (each from its opening tag to the next one)."""
    starts = [m.start() for m in _BLOCK.finditer(html)]
    return [html[a:b] for a, b in zip(starts, [*starts[1:], len(html)])]


def test_each_part_is_its_own_block_computed_first_with_its_arithmetic_marked():
    html = render_parts(PARTS, CITATIONS, turn=2)
    assert html.startswith('<div class="hdyt-parts">') and len(_BLOCK.findall(html)) == 3
    assert html.count('<p class="hdyt-p hdyt-part-a">') == 3  # paragraphs: what the page's "copy answer" gathers
    computed, first, second = _blocks(html)
    assert 'hdyt-part-computed' in computed and "đã tính" in computed
    assert '<code class="hdyt-part-expr">250.000 − 212.480 = 37.520</code>' in computed
    assert '<strong>37.520</strong>' in computed and 'href="#hdyt-src-2-1"' in computed and 'href="#hdyt-src-2-2"' in computed
    assert "Số lượt khám của A bao nhiêu" in first and 'href="#hdyt-src-2-1"' in first and "#hdyt-src-2-2" not in first
    assert "đã tính" not in first + second and "212.480" in second


def test_a_part_not_found_says_so_and_a_declined_computation_keeps_its_reason():
    parts = [
        {"question": "Số giường của B", "answer": "Số giường của B: Không tìm thấy thông tin này trong các báo cáo hiện có.",
         "abstained": True, "citations": [], "computed": None, "not_found": True},
        {"question": "A hơn B bao nhiêu", "answer": "Không tính: hai số liệu khác đơn vị (12 giuong, 3 ca), không tính được.",
         "abstained": True, "citations": [], "computed": None, "not_found": False},
    ]
    missing, declined = _blocks(render_parts(parts))
    assert "hdyt-part-notfound" in missing and ">không tìm thấy<" in missing and "Không tìm thấy thông tin" not in missing
    assert "khác đơn vị" in declined and ">không tìm thấy<" not in declined and "đã tính" not in declined


def test_everything_in_a_part_is_escaped():
    evil = "<img src=x onerror=alert(1)>"
    parts = [{"question": f"A {evil}", "answer": f"**{evil}** [1]", "abstained": False, "citations": [1],
              "computed": f"1 + 1 = 2 {evil}"}]
    html = render_parts(parts, CITATIONS)
    assert "<img" not in html and html.count("&lt;img src=x onerror=alert(1)&gt;") == 3


def test_an_answer_with_parts_shows_the_blocks_instead_of_the_lines():
    answer = {"answer": "- Tính từ hai số liệu trích dẫn: … [1][2]\n- **250.000 lượt** … [1]\n- **212.480 lượt** … [2]",
              "abstained": False, "citations": CITATIONS, "parts": PARTS}
    html = render_answer_message(answer, 1)
    assert '<div class="hdyt-parts">' in html and html.count("hdyt-part-computed") == 1
    assert "- Tính từ hai số liệu" not in html and 'class="hdyt-chips"' in html
    plain = render_answer_message({"answer": "**383.605 lượt** [1]", "abstained": False, "citations": CITATIONS[:1], "parts": []}, 1)
    assert "hdyt-parts" not in plain and "<strong>383.605 lượt</strong>" in plain


def test_an_llm_answer_keeps_its_own_text():
    html = render_answer_message({"answer": "LLM viết: **37.520** lượt [1]", "abstained": False, "citations": CITATIONS,
                                  "parts": PARTS, "backend": "llm"}, 1)
    assert "hdyt-parts" not in html and "LLM viết" in html
