"""The LLM brain: a MiniMax-Text-01/M1-style hybrid MoE model with lightning attention, kernels, checkpoints,
serving."""
