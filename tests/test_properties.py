"""Property tests (hypothesis) on what meets untrusted input first: the question validator, the BM25
tokeniser, sentence splitting, and loading files of random bytes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import DocumentError, QueryError
from rag.ingest.loaders import SUPPORTED_EXTENSIONS, load_document
from rag.query.validate import QuestionError, has_content, validate_history, validate_question
from rag.text import fold, normalize, sentence_spans, tokenize, tokenize_folded

MAX = 300
VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
vietnamese_text = st.text(alphabet=VIETNAMESE + VIETNAMESE.upper() + " .,?0123456789", min_size=1, max_size=MAX)
# anything a JSON body or a terminal can carry, lone surrogates and non-characters included
any_text = st.text(alphabet=st.characters(codec=None), max_size=400)
invisible = st.text(alphabet=st.sampled_from("\u200b\u200c\u200d\u2060\ufeff\u00ad \t\n\u00a0\u3000\u202f\u180e"), max_size=40)
quick = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@quick
@given(any_text)
def test_validator_accepts_or_refuses_clearly(text):
    try:
        question = validate_question(text, MAX)
    except QueryError as exc:
        assert " / " in str(exc)  # Vietnamese / English
        return
    assert question == unicodedata.normalize("NFC", question)
    assert has_content(question) and len(question) <= MAX
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in question)
    question.encode("utf-8")  # what a JSON response or a terminal needs
    assert validate_question(question, MAX) == question  # idempotent


@quick
@given(invisible)
def test_format_only_questions_are_empty(text):
    with pytest.raises(QuestionError) as err:
        validate_question(text, MAX)
    assert err.value.code == "empty_question"


@quick
@given(vietnamese_text.filter(has_content))
def test_length_is_counted_after_nfc(text):
    decomposed = unicodedata.normalize("NFD", text)
    assert validate_question(decomposed, MAX) == validate_question(text, MAX)


@quick
@given(st.lists(st.tuples(any_text, any_text), max_size=4))
def test_history_validator_never_crashes(history):
    try:
        pairs = validate_history(history)
    except QueryError:
        return
    assert all(isinstance(a, str) and isinstance(b, str) for a, b in pairs)


@quick
@given(st.text(max_size=300))
def test_tokens(text):
    tokens = tokenize(text)
    lowered = unicodedata.normalize("NFC", text).lower()
    for token in tokens:
        assert token and not any(c.isspace() for c in token)
        assert token in lowered or token.isdigit()  # the bare digits of "383.605" are added
    assert tokenize_folded(text) == tokenize(fold(text))
    assert tokenize(text) == tokens


@quick
@given(st.text(alphabet=st.sampled_from("Aaệ1.!?… \n\t\"“(TSBS"), max_size=300) | st.text(max_size=200))
def test_sentence_spans_cover_the_text(text):
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        previous_end = end
    covered = {i for s, e in spans for i in range(s, e)}
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.binary(min_size=0, max_size=2000), suffix=st.sampled_from(SUPPORTED_EXTENSIONS), zipped=st.booleans())
def test_load_document_on_random_bytes(tmp_path, data, suffix, zipped):
    if zipped:  # random bytes behind a zip signature reach python-docx's container parsing
        data = b"PK\x03\x04" + data
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    try:
        doc = load_document(path)
    except DocumentError as exc:
        assert exc.reason
        return
    assert doc.text and normalize(doc.text) == doc.text
    assert doc.doc_id == "random" and len(doc.content_hash) == 64
