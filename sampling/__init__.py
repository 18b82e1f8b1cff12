"""The sampling module (Horibe et al. 2022): motion primitives and candidate gesture proposal around the human's
rhythm."""
