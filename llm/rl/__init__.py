"""Reinforcement learning on verifiable tasks: CISPO (MiniMax-M1, arXiv:2506.13585 §3.1) and a GRPO baseline."""
