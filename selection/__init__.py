"""The motion-selection module (Horibe et al. 2022): expected free energy of candidate gestures, choice, blending."""
