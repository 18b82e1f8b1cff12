"""The agent's generative model (docs/architecture.md §3): hidden factors, outcome modalities, A/B/C/D/E, rhythm,
learning."""
