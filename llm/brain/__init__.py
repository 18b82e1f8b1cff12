"""The brain: utterance + perception summary in, reply + communicative intent out (docs/architecture.md §1, §6).

Backends: `embedded` (our trained checkpoint in-process) and `openai` (any chat-completions server). Import is cheap;
torch loads only when the embedded backend starts.
"""
