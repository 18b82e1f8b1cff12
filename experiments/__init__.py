"""Subjective-experiment protocols, runner, questionnaires, virtual participants, analysis and reports."""
