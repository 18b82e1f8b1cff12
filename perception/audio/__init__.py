"""The agent's ears: audio sources, voice activity, prosody, listener cues and speech recognition (standalone).

Sources (perception.audio.sources) yield 20 ms AudioFrames of 16 kHz mono int16 on a session clock, with the video
sources' fault model (SourceEvent dropout/recovered/end): MicrophoneSource (PortAudio), VideoAudioSource (ffmpeg),
WavFileSource, SpeechSynthSource (espeak-ng script) and ArraySource. AudioAnalyzer (perception.audio.features) turns
each frame into AudioFrameFeatures (webrtcvad, energy, YIN pitch) and SpeechEvents (onset, offset, pause, and the
Ward & Tsukahara 2000 low-pitch backchannel cue). SegmentedRecognizer (perception.audio.asr) cuts utterances at
the VAD's onsets/offsets and decodes them with pocketsphinx and our chitchat trigram LM into Transcripts; pass
Recognizer(config, rescorer=...) a `list[str] -> list[float]` log-probability callable (the brain's is
llm.brain.rescore.BrainRescorer) to re-rank each utterance's N-best list.
Bottom layer: never imports fep_motion, experiments or cli.
"""
from perception.audio.asr import Recognizer, RecognizerConfig, SegmentedRecognizer
from perception.audio.features import AnalyzerConfig, AudioAnalyzer
from perception.audio.sources import (
                                      ArraySource,
                                      AudioSource,
                                      MicrophoneSource,
                                      SpeechSynthSource,
                                      VideoAudioSource,
                                      WavFileSource,
                                      open_audio_source,
)
from perception.audio.types import AudioFrame, AudioFrameFeatures, SpeechEvent, Transcript

__all__ = ["AnalyzerConfig", "ArraySource", "AudioAnalyzer", "AudioFrame", "AudioFrameFeatures", "AudioSource",
           "MicrophoneSource", "Recognizer", "RecognizerConfig", "SegmentedRecognizer", "SpeechEvent",
           "SpeechSynthSource", "Transcript", "VideoAudioSource", "WavFileSource", "open_audio_source"]
