"""Question analysis: what a question asks (type, entities, keywords, parts) and follow-up rewriting."""
