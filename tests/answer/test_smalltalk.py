"""Small talk (rag.answer.smalltalk): greetings and "what can you do?" get help; real questions do not."""

from __future__ import annotations

import json

import pytest

from rag.answer import smalltalk
from rag.answer.chain import AnswerChain


@pytest.mark.parametrize("q", ["xin chào", "Xin chào!", "chào bạn", "Hello there", "bạn làm được gì?", "ban lam duoc gi", "Hướng dẫn"])
def test_small_talk_gets_a_help_reply_with_examples(q):
    reply = smalltalk.smalltalk_reply(q)
    assert reply and "Giám đốc Bệnh viện Bãi Cháy là ai?" in reply


def test_thanks_get_a_short_reply():
    assert smalltalk.smalltalk_reply("cảm ơn bạn") and "Bạn có thể hỏi" not in smalltalk.smalltalk_reply("cảm ơn bạn")


@pytest.mark.parametrize(
    "q", ["Giám đốc Bệnh viện Bãi Cháy là ai?", "xin chào, bệnh viện Bãi Cháy khám bao nhiêu lượt?", "chào mừng ngày thầy thuốc", "hi bệnh viện"]
)
def test_real_questions_are_not_small_talk(q):
    assert smalltalk.smalltalk_reply(q) is None


def test_phrases_are_data():
    data = json.loads(smalltalk._DATA.read_text(encoding="utf-8"))
    assert {"greetings", "help", "examples"} <= set(data)


def test_chain_answers_small_talk_without_searching():
    def retrieve(q):  # a real search would be wrong for a greeting: fail loudly if it happens
        raise AssertionError("searched for small talk")

    answer = AnswerChain(retrieve).answer("xin chào")
    assert not answer.abstained and answer.citations == [] and answer.backend == "smalltalk"
    assert "Xin chào" in answer.answer
