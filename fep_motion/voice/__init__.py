"""The agent's voice: offline speech synthesis (espeak-ng), the mouth's loudness envelope, playback and recording."""
