"""What the scorer's cross-validation reports at its threshold (eval/fit_scorer.py ``decision_stats``):
right decisions, answered precision, coverage, abstention precision and recall, on hand-made decisions."""

from __future__ import annotations

from eval.fit_scorer import decision_stats


def test_decision_stats_on_hand_made_decisions():
    # (answered, answered right, answerable)
    decisions = [
        (True, True, True),  # a right answer
        (True, False, True),  # a wrong answer
        (False, False, False),  # a right abstention
        (False, False, True),  # an abstention on an answerable question
        (True, False, False),  # an answer to an unanswerable question
    ]
    assert decision_stats(decisions) == {
        "right_decisions": 0.4,  # 1 right answer + 1 right abstention, of 5
        "answered_precision": 0.3333,  # 1 of 3 answers
        "coverage": 0.6,  # 3 of 5 answered
        "abstention_precision": 0.5,  # 1 of 2 abstentions on an unanswerable question
        "abstention_recall": 0.5,  # 1 of 2 unanswerable questions abstained on
    }


def test_decision_stats_without_answers_or_abstentions_divides_by_nothing():
    assert decision_stats([(False, False, False)]) == {
        "right_decisions": 1.0,
        "answered_precision": 0.0,
        "coverage": 0.0,
        "abstention_precision": 1.0,
        "abstention_recall": 1.0,
    }
