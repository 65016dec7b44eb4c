"""Evaluation data and tools for the Hỏi Đáp Y Tế assistant."""
