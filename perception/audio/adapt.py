"""Speaker adaptation of pocketsphinx's en-us acoustic model: a global MLLR mean transform per feature stream
(Leggetter & Woodland 1995, Computer Speech and Language 9(2)), estimated from enrollment utterances of known text
and applied to the model's Gaussian means (docs/architecture.md §1, eqs. 1.1-1.3).

Why our own: pocketsphinx reads adapted means (`-mean FILE`) but its Python wheel ships no estimator (sphinxtrain's
`bw` / `mllr_solve` are C tools outside any registry). pocketsphinx itself supplies what the estimate needs: the
forced alignment of each utterance to its text (phone segments) and the front end's cepstra (`-mfclogdir`).
The en-us model is phonetically tied (PTM): one codebook of 128 diagonal Gaussians per context-independent phone and
per stream (cepstra, deltas, delta-deltas; 13 dimensions each). Speech codebooks share one transform per stream;
silence and noise codebooks keep their means.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from perception.audio.types import SAMPLE_RATE
from perception.errors import PerceptionError

ENROLLMENT_SENTENCES = Path(__file__).with_name("data") / "enrollment.txt"
VOICES = Path(__file__).with_name("data") / "voices"   # shipped adaptations of espeak-ng voices: VOICE.adapt.json
NONSPEECH_PHONES = ("+NSN+", "+SPN+", "SIL")
FORMAT = "fep-motion speaker adaptation"
_VAR_FLOOR = 1e-3   # unused Gaussians carry zero variances in the shipped model: floored, and left out


def model_dir() -> Path:
    """pocketsphinx's bundled en-us acoustic model folder."""
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us" / "en-us"


def read_s3(path: Path) -> tuple[bytes, np.ndarray]:
    """A sphinx-3 binary Gaussian parameter file (means or variances): its header bytes (up to the float count) and
    the floats as [codebooks, streams, densities, dimensions]."""
    raw = path.read_bytes()
    i = raw.index(b"endhdr\n") + len(b"endhdr\n")
    if np.frombuffer(raw[i:i + 4], "<u4")[0] != 0x11223344:
        raise PerceptionError(f"{path}: not a little-endian sphinx-3 parameter file")
    n_cb, n_stream, n_den = (int(v) for v in np.frombuffer(raw[i + 4:i + 16], "<i4"))
    veclen = np.frombuffer(raw[i + 16:i + 16 + 4 * n_stream], "<i4")
    if len(set(veclen.tolist())) != 1:
        raise PerceptionError(f"{path}: streams of different widths {veclen.tolist()} are not supported")
    o = i + 16 + 4 * n_stream
    count = int(np.frombuffer(raw[o:o + 4], "<i4")[0])
    data = np.frombuffer(raw[o + 4:o + 4 + 4 * count], "<f4").astype(np.float64)
    return raw[:o + 4], data.reshape(n_cb, n_stream, n_den, int(veclen[0]))


def write_s3(path: Path, head: bytes, data: np.ndarray) -> None:
    """Write parameters under `head` (from read_s3) without the checksum flag, so pocketsphinx reads it unchecked."""
    path.write_bytes(head.replace(b"chksum0 yes\n", b"") + data.astype("<f4").tobytes())


def ci_phones(mdef: Path) -> list[str]:
    """The context-independent phone names of a binary model definition (BMDF), in codebook order."""
    raw = mdef.read_bytes()
    if raw[:4] != b"BMDF":
        raise PerceptionError(f"{mdef}: not a binary model definition (BMDF)")
    o = 12 + int(np.frombuffer(raw[8:12], "<i4")[0])     # magic, version, description length, description
    n_ci = int(np.frombuffer(raw[o:o + 4], "<i4")[0])
    return [s.decode() for s in raw[o + 40:].split(b"\x00")[:n_ci]]


@dataclass(frozen=True)
class AcousticModel:
    """The PTM model's Gaussians: means and floored variances [codebook, stream, density, dim], which densities are
    unused, which codebooks are speech, and the means file's header (to write adapted means)."""

    means: np.ndarray
    variances: np.ndarray
    dead: np.ndarray          # [codebook, stream, density]: a zero variance (never trained)
    speech: np.ndarray        # [codebook]: not silence or noise
    phones: tuple[str, ...]
    head: bytes


@lru_cache(maxsize=1)
def load_model(folder: Path | None = None) -> AcousticModel:
    """Read the acoustic model (default: pocketsphinx's en-us)."""
    folder = folder or model_dir()
    head, means = read_s3(folder / "means")
    _, var = read_s3(folder / "variances")
    phones = ci_phones(folder / "mdef")
    if len(phones) != means.shape[0]:
        raise PerceptionError(f"{folder}: {means.shape[0]} codebooks for {len(phones)} phones; only a PTM model "
                              "(one codebook per phone) can be adapted")
    dead = (var <= 0).any(-1)
    speech = np.array([p not in NONSPEECH_PHONES for p in phones])
    return AcousticModel(means, np.maximum(var, _VAR_FLOOR), dead, speech, tuple(phones), head)


def stream_features(cep: np.ndarray) -> np.ndarray:
    """pocketsphinx's 1s_c_d_dd features of [T, 13] cepstra: batch CMN, then d = c[t+2] - c[t-2] and
    dd = (c[t+3] - c[t-1]) - (c[t+1] - c[t-3]) (sphinxbase feat.c), edges repeated; [T, 3, 13]."""
    c = cep - cep.mean(0)
    p = np.pad(c, ((3, 3), (0, 0)), mode="edge")
    n = len(c)

    def shift(k: int) -> np.ndarray:
        return p[3 + k:3 + k + n]

    return np.stack([c, shift(2) - shift(-2), (shift(3) - shift(-1)) - (shift(1) - shift(-3))], axis=1)


@dataclass
class Aligned:
    """One enrollment utterance: its features [T, streams, dim], each frame's codebook (-1: not aligned), and
    whether the phone boundaries are pocketsphinx's alignment (exact) or its words split evenly among their phones."""

    features: np.ndarray
    codebook: np.ndarray
    exact: bool = True


def align(samples: np.ndarray, text: str, model: AcousticModel, means_file: Path | None = None) -> Aligned | None:
    """Force-align 16 kHz int16 `samples` to `text` with pocketsphinx (its second-pass phone alignment, or each
    word's frames split among its phones where it refuses that pass) and read the front end's cepstra; None when
    the text cannot be aligned to the audio at all (a misread sentence)."""
    from pocketsphinx import Decoder

    tmp = Path(tempfile.mkdtemp(prefix="fep_motion_align_"))
    try:
        kwargs: dict[str, object] = {"loglevel": "FATAL", "mfclogdir": str(tmp)}
        if means_file is not None:
            kwargs["mean"] = str(means_file)
        dec = Decoder(**kwargs)
        words = " ".join(w for w in text.lower().replace(",", " ").replace(".", " ").split())
        # 0.5 s of faint noise on each side: the alignment needs silence to enter and leave the sentence (a clip
        # cut at the speech's edges ends the search inside the last word); its frames align to SIL, left out below
        pad = np.random.default_rng(0).normal(0.0, 30.0, SAMPLE_RATE // 2).astype(np.int16)
        audio = np.concatenate([pad, np.asarray(samples, dtype=np.int16), pad])
        try:
            dec.set_align_text(words)
            _decode(dec, audio)
        except RuntimeError:
            return None
        hyp = dec.hyp()
        if hyp is None or not hyp.hypstr:
            return None
        segments = [(seg.word, seg.start_frame, seg.end_frame) for seg in dec.seg()]
        try:   # second pass: pocketsphinx's own phone and state alignment
            dec.set_alignment()
            _decode(dec, audio)
            alignment = dec.get_alignment()
            phones = [(ph.name, ph.start, ph.duration) for ph in alignment.phones()] if alignment else None
        except RuntimeError:
            phones = None
        exact = phones is not None
        if phones is None:   # it refuses some word segmentations: split each word's frames among its phones
            phones = _split_words(dec, segments)
        files = sorted(glob.glob(str(tmp / "*.mfc")))
        if not files:
            return None
        raw = Path(files[-1]).read_bytes()
        cep = np.frombuffer(raw[4:], ">f4").reshape(-1, 13).astype(np.float64)   # sphinx MFC: big-endian
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    codebook = np.full(len(cep), -1)
    index = {p: i for i, p in enumerate(model.phones)}
    for name, start, duration in phones:
        if name in index:
            codebook[start:start + duration] = index[name]
    return Aligned(stream_features(cep), codebook, exact)


def _decode(dec: Any, audio: np.ndarray) -> None:
    """One whole-utterance pass; full_utt: batch CMN over the utterance, as the model was trained (feat.params)."""
    dec.start_utt()
    dec.process_raw(audio.tobytes(), False, True)
    dec.end_utt()


def _split_words(dec: Any, segments: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """(phone, start frame, frames) from word segments: each word's frames split evenly among its dictionary phones
    (the pronunciation variant the search chose); fillers become SIL."""
    out: list[tuple[str, int, int]] = []
    for word, start, end in segments:
        pron = dec.lookup_word(word) if not word.startswith(("<", "[", "+")) else None
        names = pron.split() if pron else ["SIL"]
        edges = np.linspace(start, end + 1, len(names) + 1).round().astype(int)
        out += [(n, int(a), int(b - a)) for n, a, b in zip(names, edges[:-1], edges[1:]) if b > a]
    return out


@dataclass
class MllrStats:
    """Sufficient statistics per Gaussian: occupancy sum_t g_m(t) and first moment sum_t g_m(t) o(t)."""

    occupancy: np.ndarray   # [codebook, stream, density]
    first: np.ndarray       # [codebook, stream, density, dim]
    frames: int = 0


def accumulate(model: AcousticModel, utterances: Iterable[Aligned], means: np.ndarray | None = None) -> MllrStats:
    """Gaussian occupancies of the speech frames under `means` (default the model's): within the aligned phone's
    codebook, the posterior of each density given the frame (equal weights: the senone mixture weights are not
    read; with 128 densities per codebook the nearest ones take the frame either way)."""
    mu = model.means if means is None else means
    stats = MllrStats(np.zeros(mu.shape[:3]), np.zeros(mu.shape))
    log_det = np.log(model.variances).sum(-1)
    for utt in utterances:
        for cb in np.unique(utt.codebook):
            if cb < 0 or not model.speech[cb]:
                continue
            o = utt.features[utt.codebook == cb]                       # [n, stream, dim]
            stats.frames += len(o)
            for s in range(mu.shape[1]):
                d = o[:, None, s, :] - mu[cb, s][None]                 # [n, density, dim]
                ll = -0.5 * ((d * d / model.variances[cb, s][None]).sum(-1) + log_det[cb, s][None])
                ll[:, model.dead[cb, s]] = -np.inf
                g = np.exp(ll - ll.max(1, keepdims=True))
                g /= g.sum(1, keepdims=True)
                stats.occupancy[cb, s] += g.sum(0)
                stats.first[cb, s] += g.T @ o[:, s, :]
    return stats


def estimate(model: AcousticModel, stats: MllrStats, means: np.ndarray | None = None, ridge: float = 1e-3
             ) -> np.ndarray:
    """The MLLR mean transform W [stream, dim, dim + 1] with mu' = W [1, mu] (docs/architecture.md eqs. 1.1-1.3):
    row i solves (G_i + lam I) w_i = k_i + lam e_i, G_i = sum_m c_m / var_mi xi_m xi_m^T, k_i = sum_m F_mi / var_mi
    xi_m (Leggetter & Woodland 1995, diagonal covariances); `ridge` (lam relative to G's trace) keeps a sparse
    estimate near the identity."""
    mu = model.means if means is None else means
    n_stream, dim = mu.shape[1], mu.shape[3]
    w_out = np.zeros((n_stream, dim, dim + 1))
    for s in range(n_stream):
        keep = model.speech[:, None] & ~model.dead[:, s]                # [codebook, density]
        xi = np.concatenate([np.ones(mu.shape[:1] + mu.shape[2:3] + (1,)), mu[:, s]], axis=-1)[keep]  # [M, dim+1]
        occ = stats.occupancy[:, s][keep]
        first = stats.first[:, s][keep]
        var = model.variances[:, s][keep]
        identity = np.concatenate([np.zeros((dim, 1)), np.eye(dim)], axis=1)
        for i in range(dim):
            g = (xi * (occ / var[:, i])[:, None]).T @ xi
            k = ((first[:, i] / var[:, i])[:, None] * xi).sum(0)
            lam = ridge * np.trace(g) / (dim + 1)
            # ridge toward the identity row: (G + lam I) w = k + lam w_identity
            w_out[s, i] = np.linalg.solve(g + lam * np.eye(dim + 1), k + lam * identity[i])
    return w_out


def transform_means(model: AcousticModel, transform: np.ndarray, means: np.ndarray | None = None) -> np.ndarray:
    """mu' = W [1, mu] for the speech codebooks' used densities; silence, noise and unused densities unchanged."""
    mu = model.means if means is None else means
    out = mu.copy()
    for s in range(mu.shape[1]):
        xi = np.concatenate([np.ones(mu.shape[:1] + mu.shape[2:3] + (1,)), mu[:, s]], axis=-1)
        new = xi @ transform[s].T
        keep = (model.speech[:, None] & ~model.dead[:, s])[..., None]
        out[:, s] = np.where(keep, new, mu[:, s])
    return out


@dataclass
class SpeakerAdaptation:
    """A speaker's adapted means, kept as the composition of its MLLR transforms (small: 3 x 13 x 14 floats each),
    with what they were estimated from."""

    transforms: list[np.ndarray]
    speaker: str = ""
    utterances: int = 0
    aligned: int = 0
    frames: int = 0
    source: str = ""
    history: list[dict[str, float]] = field(default_factory=list)

    def means(self, model: AcousticModel | None = None) -> np.ndarray:
        """The adapted means: each transform applied in turn to the model's means."""
        model = model or load_model()
        mu = model.means
        for w in self.transforms:
            mu = transform_means(model, w, mu)
        return mu

    def to_json(self) -> dict[str, object]:
        return {"format": FORMAT, "version": 1, "speaker": self.speaker, "utterances": self.utterances,
                "aligned": self.aligned, "frames": self.frames, "source": self.source, "history": self.history,
                "transforms": [np.round(w, 7).tolist() for w in self.transforms]}

    def save(self, path: Path) -> None:
        """Write the adaptation as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")


def load_adaptation(path: str | Path) -> SpeakerAdaptation:
    """Read a speaker adaptation file written by SpeakerAdaptation.save (`fep-motion hearing enroll`)."""
    path = Path(path)
    if not path.is_file():
        raise PerceptionError(f"{path}: speaker adaptation file not found; make one with `fep-motion hearing enroll`")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PerceptionError(f"{path}: not a speaker adaptation file ({exc}); make one with "
                              "`fep-motion hearing enroll`") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PerceptionError(f"{path}: not a speaker adaptation file (no format: {FORMAT!r}); make one with "
                              "`fep-motion hearing enroll`")
    model = load_model()
    shape = (model.means.shape[1], model.means.shape[3], model.means.shape[3] + 1)
    listed = data.get("transforms", [])
    if not isinstance(listed, list):
        raise PerceptionError(f"{path}: transforms: must be a list of transforms; re-run `fep-motion hearing enroll`")
    transforms = []
    for k, w in enumerate(listed):
        arr = np.asarray(w, dtype=np.float64)
        if arr.shape != shape or not np.isfinite(arr).all():
            raise PerceptionError(f"{path}: transforms[{k}] must be {shape[0]}x{shape[1]}x{shape[2]} finite numbers; "
                                  "re-run `fep-motion hearing enroll`")
        transforms.append(arr)
    if not transforms:
        raise PerceptionError(f"{path}: transforms: empty; re-run `fep-motion hearing enroll`")
    return SpeakerAdaptation(transforms, str(data.get("speaker", "")), int(data.get("utterances", 0)),
                             int(data.get("aligned", 0)), int(data.get("frames", 0)), str(data.get("source", "")),
                             list(data.get("history", [])))


def means_file(adaptation: SpeakerAdaptation) -> Path:
    """The adapted means as a sphinx-3 file pocketsphinx loads (`mean=`), written once per distinct adaptation and
    acoustic model into the temp folder (keyed by the transforms' and the model's means' hash)."""
    model = load_model()
    digest = hashlib.sha256(json.dumps([np.round(w, 7).tolist() for w in adaptation.transforms]).encode())
    digest.update(model.means.tobytes())
    out = Path(tempfile.gettempdir()) / f"fep_motion_means_{digest.hexdigest()[:16]}"
    if not out.is_file():
        part = out.with_name(f"{out.name}.{os.getpid()}.part")   # the session and its recogniser process may race
        write_s3(part, model.head, adaptation.means(model))
        part.replace(out)
    return out


def enroll(utterances: Iterable[tuple[np.ndarray, str]], iterations: int = 2, speaker: str = "", source: str = "",
           progress: Callable[[str], None] | None = None) -> SpeakerAdaptation:
    """Estimate a speaker adaptation from (16 kHz int16 samples, text) pairs: align with the current means,
    accumulate, solve, and repeat `iterations` times (each pass re-aligns under the adapted model)."""
    items = list(utterances)
    if not items:
        raise PerceptionError("speaker adaptation: no enrollment utterances; read at least 10 sentences")
    model = load_model()
    adaptation = SpeakerAdaptation([], speaker, len(items), 0, 0, source)
    for it in range(iterations):
        current = adaptation.means(model) if adaptation.transforms else model.means
        mfile = means_file(adaptation) if adaptation.transforms else None
        aligned = [a for a in (align(x, text, model, mfile) for x, text in items) if a is not None]
        if not aligned:
            raise PerceptionError("speaker adaptation: no enrollment utterance could be aligned to its text; "
                                  "check the microphone level and read the sentences as written")
        stats = accumulate(model, aligned, current)
        adaptation.transforms.append(estimate(model, stats, current))
        adaptation.aligned, adaptation.frames = len(aligned), stats.frames
        exact = sum(a.exact for a in aligned)
        adaptation.history.append({"iteration": it + 1, "aligned": len(aligned), "exact": exact,
                                   "frames": stats.frames})
        if progress is not None:
            progress(f"pass {it + 1}/{iterations}: {len(aligned)}/{len(items)} utterances aligned ({exact} by "
                     f"pocketsphinx's phone alignment, the rest word by word), {stats.frames} speech frames")
    return adaptation


def voice_adaptation(voice: str) -> Path | None:
    """The shipped adaptation of an espeak-ng voice (the virtual participants' voices), or None if there is none.
    Made by `fep-motion hearing enroll --voice VOICE --out perception/audio/data/voices/VOICE.adapt.json`."""
    path = VOICES / f"{voice}.adapt.json"
    return path if path.is_file() else None


def enrollment_sentences(path: Path = ENROLLMENT_SENTENCES) -> list[str]:
    """The enrollment script: one sentence per line (blank lines skipped)."""
    return [s.strip() for s in Path(path).read_text().splitlines() if s.strip()]
