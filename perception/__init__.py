"""Perception: camera/video sources, MediaPipe pose, One-Euro filtering, features and human gesture events.

Never imports fep_motion; its outputs are the PoseFrame and Observation contracts in perception.types.
"""
from perception.types import FEATURE_NAMES, HumanEvent, Observation, PoseFrame

__all__ = ["FEATURE_NAMES", "HumanEvent", "Observation", "PoseFrame"]
