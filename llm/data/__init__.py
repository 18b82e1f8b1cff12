"""Synthetic SynLogic-style corpora: one generator and one rule-based verifier per task, seeded, with a difficulty knob.

Tasks: `interaction` (reply + communicative intent from cues) and the reasoning mini-tasks `game24`, `word_sort`,
`object_count` (answered after <think>...</think>).
"""
