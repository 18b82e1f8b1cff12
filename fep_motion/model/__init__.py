"""The agent's generative model (DESIGN.md §3): hidden factors, outcome modalities, A/B/C/D/E, rhythm, learning."""
