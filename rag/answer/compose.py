"""Composing an answer from facts: split a question into its parts, answer each, join the lines.

:func:`answer_extractive` is the offline answerer's entry point:

* a compound question is split by :func:`sub_questions` into two or more parts (each borrows what
  it lacks from the others); each part is retrieved and answered on its own by
  :func:`rag.answer.extractive.best_fact`, so the facts may come from different documents; the
  lines are joined in the order asked, a part not found keeps its own "không tìm thấy" line, and
  the parts are returned (``ComposedAnswer.parts``, the JSON ``parts``);
* a computed comparison (:mod:`rag.answer.compute`: "cao hơn … bao nhiêu", "tổng cộng", "gấp
  bao nhiêu lần" …) answers both operands as cited parts and shows the computation, or says why
  it declines (units or periods that disagree, an operand not found);
* a plural list of people or units (:mod:`rag.answer.lists`) lists every distinct name the
  relevant sentences give, each cited;
* an English question's answer ends with a note that it quotes the Vietnamese reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from langchain_core.documents import Document

from rag.answer.extractive import (
    MAX_PASSAGES,
    NOT_FOUND,
    QUOTE_MAX_CHARS,
    RELATED_MAX,
    Fact,
    Lookup,
    QuoteRef,
    Span,
    best_fact,
    render_fact,
)
from rag.answer.rendering import quote_around
from rag.answer import compute, derive, excess, in_sentence, lists, operands
from rag.answer.parts import Citations, ComposedAnswer, PartAnswer, why_not, without_figures
from rag.answer.scoring import Scorer
from rag.query.analysis import canon, extract_entities, match_tokens, words
from rag.query.question import Question, analyse_question, as_question
from rag.text import fold, sentence_spans


def sub_questions(question: str | Question) -> list[str]:
    """Standalone parts of a compound question, in the order asked; each borrows what it lacks
    (topic, question word, named unit, year) from the nearest other part that has it.

    "Số lượt khám bệnh và số lượt điều trị nội trú của Quảng Ninh năm 2023 là bao nhiêu?" →
    ["Số lượt khám bệnh bao nhiêu Quảng Ninh năm 2023", "số lượt điều trị nội trú của Quảng Ninh
    năm 2023 là bao nhiêu?"]; "Bãi Cháy và Tiên Du khám bao nhiêu lượt?" gives each name the topic.
    """
    return [part.text for part in standalone_parts(as_question(question))]


def standalone_parts(question: Question) -> list[Question]:
    """:func:`sub_questions` as questions: ``[question]`` itself when it asks one thing, else each
    standalone part a :class:`Question` of its own (analysed once, where it is first read)."""
    parts = question.parts
    if len(parts) < 2:
        return [question]
    known = {part.text: part for part in parts}

    def ask(text: str) -> Question:
        """The question of ``text``, one per text: each part's stripped topic is read by every other part."""
        return known.setdefault(text, analyse_question(text))

    return [ask(_standalone(parts, i, ask)) for i in range(len(parts))]


def _standalone(parts: Sequence[Question], i: int, ask: Callable[[str], Question]) -> str:
    """Part ``i`` with what it lacks borrowed from the nearest other part (the next one first)."""
    mine = parts[i].text
    order = sorted((j for j in range(len(parts)) if j != i), key=lambda j: (abs(j - i), j < i))
    added: list[str] = []
    ents_mine = parts[i].entities
    topic = [k for k in ask(_strip_entities(mine)).type.keywords_folded if k not in _TIME_WORDS]
    if len(topic) <= 1:
        donor = next((parts[j] for j in order if len(ask(_strip_entities(parts[j].text)).type.keywords_folded) > 1), parts[order[0]])
        qword = _qword_text(donor) if parts[i].type.qwords else ""
        added.append(_strip_entities(donor.text.replace(qword, " ")) if qword else _strip_entities(donor.text))
    elif not parts[i].type.qwords:
        added.append(next((q for q in (_qword_text(parts[j]) for j in order) if q), ""))
    named = [e for e in ents_mine if e.kind in ("facility", "place", "name", "person")]
    scope = re.search(r"\b(toan nganh|toan tinh|toan quoc|ca nuoc|nationwide|whole province)\b", fold(mine).lower())
    if not named and not scope:
        for j in order:
            found = [_entity_phrase(parts[j].text, e) for e in parts[j].entities if e.kind in ("facility", "place", "name")]
            found = [f for f in found if not any(f != g and f in g for g in found)]  # "Bệnh viện Phổi" in "Bệnh viện Phổi tỉnh …"
            if found:
                added.extend(found)
                break
    if not any(e.kind == "year" for e in ents_mine) and not scope and not re.search(r"(?<!\d)(?:19|20)\d{2}(?!\d)", mine):
        for j in order:
            years = [e.text for e in parts[j].entities if e.kind == "year"]
            if years:
                added.extend(years)
                break
    text = ", ".join([mine.rstrip(" ?.!")] + [a for a in added if a]).strip()
    return " ".join(text.split())


_TIME_WORDS = frozenset("nam thang dau cuoi ca quy trong ngay".split())


def _strip_entities(text: str) -> str:
    """``text`` without its entity names, parenthesised asides and facility heads."""
    text = re.sub(r"\([^)]*\)", " ", text)
    for ent in extract_entities(text):
        text = text.replace(ent.text, " ")
    text = re.sub(
        r"(?i)(?<![\wÀ-ỹ])(của\s+)?(bệnh viện|trung tâm y tế|trạm y tế|sở y tế|trung tâm|huyện|tỉnh|khu vực|và|mỗi nơi|lần lượt|từng|so sánh|so sanh|compare)(?![\wÀ-ỹ])",
        " ",
        text,
    )
    return " ".join(text.split())


def _entity_phrase(text: str, ent) -> str:
    """The entity with its head noun when the text has one ("Trung tâm Y tế huyện Tiên Du")."""
    idx = text.find(ent.text)
    if idx < 0 or ent.kind not in ("facility",):
        return ent.text
    m = re.search(r"(?i)(bệnh viện|trung tâm y tế|trạm y tế|sở y tế|benh vien|trung tam y te|tram y te|so y te|ttyt)(\s+\S+){0,3}\s*$", text[:idx])
    return text[m.start() : idx + len(ent.text)] if m else ent.text


def _qword_text(question: Question) -> str:
    """The question-word phrase of ``question`` as typed: "bao nhiêu", "xếp hạng mấy", "diễn ra trước",
    or for "nào" the noun phrase it closes ("Lãnh đạo Sở Y tế nào phát biểu")."""
    text = question.text
    toks = words(text)
    if not toks:
        return ""
    folded = [canon(t) for t, _, _ in toks]
    for phrase in question.type.qwords:
        p = phrase.split()
        for i in range(len(folded) - len(p) + 1):
            if folded[i : i + len(p)] != p:
                continue
            start, end = i, i + len(p) - 1
            if p[-1] == "nao" and len(p) == 1 or phrase in ("nhung nao", "chuc danh nao"):
                pass
            elif i > 0 and folded[i - 1] in ("hang", "thu", "quy", "la"):
                start = i - 1
            return text[toks[start][1] : toks[end][2]]
    for i, f in enumerate(folded):
        if f == "nao":  # "Lãnh đạo Sở Y tế nào phát biểu": the noun phrase before, the verb after
            start = i
            while start > 0 and i - start < 5 and not re.search(r"[,;:.]", text[toks[start - 1][2] : toks[start][1]]):
                start -= 1
            end = min(len(toks) - 1, i + 1)
            return text[toks[start][1] : toks[end][2]]
    return ""


# an English question is answered by quoting Vietnamese reports: say so, below the answer (the bold lead stays first)
ENGLISH_NOTE = "(The answer quotes the Vietnamese reports verbatim.)"


def answer_extractive(
    question: str | Question,
    retrieve: Callable[[str], Sequence[Document]] | None = None,
    docs: Sequence[Document] | None = None,
    lookup: Lookup | None = None,
    scorer: Scorer | None = None,
) -> ComposedAnswer:
    """Answer ``question`` (its analysed :class:`Question`, or the text) from passages: either
    ``docs`` already retrieved, or ``retrieve(query)``.

    With ``retrieve``, each part of a compound question retrieves on its own, so each fact can
    come from its own document.
    """
    if docs is None and retrieve is None:
        raise ValueError("give docs or retrieve")
    asked = as_question(question)
    result = _compose(asked, retrieve, docs, lookup, scorer)
    if not result.abstained and asked.english:
        result.text = f"{result.text}\n{ENGLISH_NOTE}"
    return result


def _compose(
    question: Question,
    retrieve: Callable[[str], Sequence[Document]] | None,
    docs: Sequence[Document] | None,
    lookup: Lookup | None,
    scorer: Scorer | None,
) -> ComposedAnswer:
    def search(q: str) -> list[Document]:
        return list(retrieve(q)) if retrieve is not None else list(docs or [])

    derived = derive.answer_previous(question.text, search, lookup, scorer)
    if derived is not None:
        return derived
    surplus = excess.answer(question.text, search(question.text), lookup, scorer)  # "vượt kế hoạch bao nhiêu"
    if surplus is not None:
        return surplus
    computation = compute.plan(question.text)
    if computation is not None:
        computed = _answer_computed(question, computation, search, lookup, scorer)
        if computed is not None:
            return computed
    parts = standalone_parts(question)
    part_docs: list[list[Document]] = []
    if len(parts) == 1:
        base_docs = search(question.text) if docs is None else list(docs)
        part_docs = [base_docs]
    else:
        part_docs = [search(part.text) for part in parts]
        # every part's passages stay candidates for the other parts (after its own)
        base_docs = _interleave(part_docs)
        part_docs = [
            (pd[: MAX_PASSAGES - 2] + [d for d in base_docs if _doc_key(d) not in {_doc_key(x) for x in pd[: MAX_PASSAGES - 2]}])[:MAX_PASSAGES]
            for pd in part_docs
        ]
    facts: list[Fact | None] = []
    reasons: list[str] = []
    seen_confidence: list[float] = []
    for part, pdocs in zip(parts, part_docs):
        fact, scored = best_fact(part, pdocs, lookup, scorer=scorer)
        if fact is None:
            why, confidence = why_not(scored)
            reasons.append(f"{part.text}: {why}")
            if confidence is not None:
                seen_confidence.append(confidence)
        facts.append(fact)

    found = [f for f in facts if f is not None]
    if not found:
        related = _related(base_docs, question, lookup)
        return ComposedAnswer(NOT_FOUND, True, [], related, reasons, max(seen_confidence, default=0.0))

    target = lists.list_target(question) if len(parts) == 1 else None
    if target is not None:
        items = lists.collect(question, target, scored)
        if len(items) >= 2:
            return _list_answer(items, reasons, found[0].confidence)

    citer = Citations()
    lines: list[str] = []
    answered: list[PartAnswer] = []
    for part, fact in zip(parts, facts):
        if fact is None:
            answered.append(PartAnswer.missing(part.text, NOT_FOUND))
            line = answered[-1].text
        else:
            numbers = citer.cite(fact)
            line = render_fact(fact, numbers)
            answered.append(PartAnswer(part.text, line, False, numbers))
        if line not in lines:  # two parts answered by the same quote: the line once
            lines.append(line)
    text = lines[0] if len(lines) == 1 else "\n".join(f"- {line}" for line in lines)
    return ComposedAnswer(
        text, False, citer.refs, [], reasons, min(f.confidence for f in found), parts=answered if len(parts) > 1 else []
    )


def _list_answer(items: list[lists.Item], reasons: list[str], confidence: float) -> ComposedAnswer:
    """One line per distinct item: its name in bold and the sentence that names it, cited."""
    citer = Citations()
    lines = []
    for item in items:
        s = item.scored
        fact = Fact(s.unit, item.span, [quote_around(s.unit.passage.text, s.unit.sent_start, s.unit.sent_end, item.span)], s.score, s.coverage, confidence, True)
        lines.append(render_fact(fact, citer.cite(fact)))
    return ComposedAnswer("\n".join(f"- {line}" for line in lines), False, citer.refs, [], reasons, confidence)


def _operand_questions(p: compute.Plan) -> tuple[Question, Question] | None:
    """The two operands' standalone questions: "A cao hơn B bao nhiêu giường" → ("A bao nhiêu giường",
    "<A's measure> B bao nhiêu giường"); "chênh lệch … giữa A và B" → the two parts of "… A và B"."""
    if p.op == "change":
        base = compute.level_question(p.left)
        years = re.findall(r"(?:19|20)\d{2}", p.baseline)
        mine = re.findall(r"(?:19|20)\d{2}", base)
        if not years or not mine:
            return None  # "so với cùng kỳ": no stated baseline period to look up
        return analyse_question(base), analyse_question(base.replace(mine[0], years[0]))
    if not p.right:
        parts = standalone_parts(analyse_question(p.left))
        if len(parts) != 2 or _named(parts[0]) == _named(parts[1]):
            return None  # "… năm 2023, và tổng cộng từ 2019": one unit's two figures, not two operands
        return parts[0], parts[1]
    qword = _qword_text(analyse_question(p.right)) or "bao nhiêu"
    # "… bao nhiêu ca tay chân miệng": the measure asked after the question word is both sides'
    at = p.right.find(qword)
    asked = p.right[at + len(qword) :].strip(" ,?.") if at >= 0 else ""
    subject_b = " ".join((p.right[:at] if at >= 0 else p.right).split())
    measure = _measure_of(p.left)
    if p.op == "share":  # "A chiếm bao nhiêu phần trăm số ca toàn tỉnh": A's figure is of B's measure
        left = p.left if re.search(r"(?<![\w])(so|ty le|ti le)(?![\w])", fold(p.left).lower()) else f"{_measure_of(p.right)} {p.left}"
        return analyse_question(" ".join(f"{left} bao nhiêu".split())), analyse_question(f"{p.right} bao nhiêu")
    qa = f"{p.left} {qword} {asked}"
    qb = f"{measure} {subject_b} {qword} {asked}"
    years = [e.text for e in extract_entities(p.left) if e.kind == "year"]
    if years and not any(e.kind == "year" for e in extract_entities(qb)):
        qb = f"{qb} {years[0]}"
    return analyse_question(" ".join(qa.split())), analyse_question(" ".join(qb.split()))


def _measure_of(text: str) -> str:
    """What a side of a comparison measures (:func:`rag.answer.operands.measure_of`), else the side
    without its entity names."""
    return operands.measure_of(text) or _strip_entities(text)


def _named(part: Question) -> frozenset[tuple[str, ...]]:
    """The units and years a part names (two operands of one comparison name different ones)."""
    return frozenset(e.tokens for e in part.entities if e.kind in ("facility", "place", "name", "year"))


def _answer_computed(
    question: Question, p: compute.Plan, search: Callable[[str], list[Document]], lookup: Lookup | None, scorer: Scorer | None
) -> ComposedAnswer | None:
    """Both operands answered as cited parts and the computation shown, or declined with its reason.

    None (answer as an ordinary question) when the question's figure may be stated directly: a
    change the report states ("tăng 8,7% so với năm 2022"), a share it states ("chiếm 28,3%"), or
    operands this question's wording does not yield."""
    direct = None
    if p.op in ("change", "share", "ratio"):  # the report may state the figure itself
        direct, _ = best_fact(question, search(question.text), lookup, scorer=scorer)
        if direct is not None and direct.span is not None and _states(p.op, direct.span):
            return None
    one = in_sentence.answer(question.text, p, search(question.text), lookup, scorer)  # both figures in one sentence
    if one is not None:
        return one
    questions = _operand_questions(p)
    if questions is None:
        return None
    docs = [search(q.text) for q in questions]
    pool = _interleave(docs)
    # both operands' unit: the one the question asks (a share or a change in per cent: each part's own)
    want = "" if p.op == "share" or p.op == "change" and p.percent else operands.asked_unit(question.text)
    found: list[operands.Found | None] = []
    reasons: list[str] = []
    avoid = None
    for q, own in zip(questions, docs):
        head = own[: MAX_PASSAGES - 2]
        got, scored = operands.find(q, (head + [d for d in pool if d not in head])[:MAX_PASSAGES], lookup, scorer, avoid, want or None)
        if got is None:
            reasons.append(f"{q.text}: {why_not(scored)[0]}")
        else:  # one sentence may hold both figures: B is then its other figure
            f = got.fact
            avoid = (f.unit.passage.doc_id, f.unit.passage.start + f.span.start, f.unit.passage.start + f.span.end) if f.span else None
        found.append(got)
    first, second = found
    if direct is not None and (first is None or second is None or first.weak or second.weak):
        return None  # an operand is missing or unsure but the question has a direct answer
    if first is None and second is None:
        return ComposedAnswer(NOT_FOUND, True, [], _related(pool, question, lookup), reasons)
    citer = Citations()
    parts: list[PartAnswer] = []
    for q, got in zip(questions, (first, second)):
        if got is None:
            parts.append(PartAnswer.missing(q.text, NOT_FOUND))
        else:
            numbers = citer.cite(got.fact)
            shown = replace(got.fact, lead=False) if p.op == "change" else got.fact  # a change asked: no level in bold
            parts.append(PartAnswer(q.text, render_fact(shown, numbers), False, numbers))
    weak = [(q, got) for q, got in zip(questions, (first, second)) if got is not None and got.weak]
    if first is None or second is None:
        missing = questions[0] if first is None else questions[1]
        head = f"Không tính được: thiếu số liệu “{without_figures(missing.text)}”."
        computed = PartAnswer(question.text, head, True)
    elif len(weak) == 2:
        head = "Không tính: cả hai số liệu tìm được đều chưa đủ chắc chắn để tính."
        computed = PartAnswer(question.text, head, True)
    else:
        (a, b), fa = _one_report_period(first, second), first.fact
        unit_text = "điểm phần trăm" if a.unit == "%" else compute.unit_after(fa.span.text, a.written) if fa.span else ""
        # two periods the question itself asks ("A (năm 2024) và B (năm 2023)") are compared as asked
        result = compute.combine(p.op, a, b, unit_text, p.percent, compute.asked_apart(questions[0].text, questions[1].text))
        cites = parts[0].citations + [n for n in parts[1].citations if n not in parts[0].citations]
        if result.ok:
            head = f"Tính từ hai số liệu trích dẫn: {result.line} {''.join(f'[{n}]' for n in cites)}"
            if weak:
                head += f"\n- {_weak_note(weak[0][0])}"
            computed = PartAnswer(question.text, head, False, cites, result.computed)
        else:
            head = f"Không tính: {result.reason}."
            computed = PartAnswer(question.text, head, True)
    lines = [computed.text] + [pa.text for pa in parts]
    text = "\n".join(f"- {line}" for line in lines)
    confidence = min(f.confidence for f in (first, second) if f is not None)
    # an operand not found (or none sure): the question is not answered (a figure found is still shown and cited)
    # a declined figure is no answer; a comparison declined still answers with both figures quoted
    unanswered = first is None or second is None or len(weak) == 2 or computed.abstained and p.op != "compare"
    return ComposedAnswer(text, unanswered, citer.refs, [], reasons, confidence, parts=[*parts, computed])


def _one_report_period(x: operands.Found, y: operands.Found) -> tuple[compute.Operand, compute.Operand]:
    """The operands, a figure whose sentence states no period taking the period of the other one
    when both come from one report ("6 tháng đầu năm 2024, toàn tỉnh ghi nhận 214 ca. … Thành phố
    Kon Tum có 71 ca")."""
    a, b = x.operand, y.operand
    if x.fact.unit.passage.doc_id != y.fact.unit.passage.doc_id:
        return a, b
    def states(f: operands.Found) -> bool:
        return bool(re.search(r"(?<!\d)(?:19|20)\d{2}(?!\d)", f.fact.unit.sentence))
    if states(x) and not states(y):
        b = replace(b, years=a.years, part_year=a.part_year)
    elif states(y) and not states(x):
        a = replace(a, years=b.years, part_year=b.part_year)
    return a, b


def _weak_note(q: Question) -> str:
    """Which operand is the least sure, and why it is used anyway (no figure of its own: every
    number of the answer is a cited or computed one)."""
    return f"Lưu ý: số liệu “{without_figures(q.text)}” kém chắc chắn nhất, được dùng vì đúng đơn vị và kỳ với số liệu kia."


def _states(op: compute.Op, span: Span) -> bool:
    """The span states the asked figure directly: a change ("tăng 8,7%"), a ratio ("gấp 3,2 lần"), a share (a %)."""
    folded = fold(span.text + " " + span.unit).lower()
    if op == "ratio":
        return bool(re.search(r"(?<![\w])lan(?![\w])", folded))
    if op == "share":
        return span.text.endswith("%")
    return span.change


def _interleave(lists: list[list[Document]]) -> list[Document]:
    """Round-robin merge without duplicates, so each part's best passages come first."""
    out: list[Document] = []
    seen: set[tuple[str, int, int]] = set()
    for i in range(max(len(x) for x in lists)):
        for lst in lists:
            if i < len(lst) and _doc_key(lst[i]) not in seen:
                seen.add(_doc_key(lst[i]))
                out.append(lst[i])
    return out


def _doc_key(doc: Document) -> tuple[str, int, int]:
    md = doc.metadata or {}
    return (str(md.get("doc_id")), int(md.get("start", 0) or 0), int(md.get("end", 0) or 0))


def _related(docs: Sequence[Document], question: Question, lookup: Lookup | None) -> list[QuoteRef]:
    """Up to RELATED_MAX nearest passages, each with its best-matching sentence as the quote."""
    qt = question.type
    kws = set(qt.keywords_folded)
    out: list[QuoteRef] = []
    for doc in docs[:RELATED_MAX]:
        text = doc.page_content
        best, best_hits = None, -1
        for s, e in sentence_spans(text):
            hits = sum(1 for t in match_tokens(text[s:e]) if t in kws)
            if hits > best_hits:
                best, best_hits = (s, e), hits
        if best is None:
            continue
        s, e = best
        if e - s > QUOTE_MAX_CHARS:
            e = s + QUOTE_MAX_CHARS
            while e > s and not text[e - 1].isspace():
                e -= 1
            e = e - 1 if e > s else s + QUOTE_MAX_CHARS
        out.append(QuoteRef(doc, s, e))
    return out


__all__ = ["ENGLISH_NOTE", "ComposedAnswer", "PartAnswer", "answer_extractive", "standalone_parts", "sub_questions"]
