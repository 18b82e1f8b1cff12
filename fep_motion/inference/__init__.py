"""Perception as inference: per-frame minimization of variational free energy over the discrete factors."""
