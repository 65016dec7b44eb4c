"""The ask profile (bench.profile_ask): stages that add up, the functions that cost, the report's table."""

from __future__ import annotations

import pytest

from bench.profile_ask import profile
from bench.report import _profile_lines


def test_profile_splits_an_ask_into_stages_that_add_up(corpus_settings):
    questions = ["Bệnh viện nào có bao nhiêu giường bệnh?", "Ai là giám đốc Sở Y tế?", "Năm 2024 khám bao nhiêu lượt?"]
    result = profile(corpus_settings.index_dir, questions, top=5)
    stages = dict(result["stages_ms"])
    total = stages.pop("ask (total, under the profiler)")
    assert result["questions"] == 3 and len(result["top_functions"]) == 5
    assert all(ms >= 0.0 for ms in stages.values()), stages
    assert sum(stages.values()) == pytest.approx(total, rel=0.02, abs=0.2)
    assert stages["query embedding (model)"] > 0.0  # three new questions: three model calls
    assert total <= result["wall_ms_per_ask"] * 1.05
    lines = _profile_lines(result)
    assert any("query embedding (model)" in line for line in lines) and lines[1].startswith("### Where an ask")
