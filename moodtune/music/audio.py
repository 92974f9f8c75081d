"""Audio → (valence, arousal): clip-level features with librosa and a small linear model shipped as numbers.

The features are the 58 of ``shared/data/music/4q_panda/derived/librosa_features_4q.csv`` (so the model can be
compared with that file's reference figures), computed at 22,050 Hz, mono, STFT ``n_fft`` 2048 / hop 512:

=====================  ====  ==========================================================================
name                   n     what
=====================  ====  ==========================================================================
rms_mean, rms_std      2     frame RMS energy (loudness and its variation)
centroid_mean/_std     2     spectral centroid in Hz (brightness)
rolloff_mean           1     85 % spectral roll-off in Hz
flatness_mean          1     spectral flatness (noise-like vs tonal)
zcr_mean               1     zero-crossing rate (noisiness, distortion)
tempo_bpm              1     ``librosa.feature.tempo`` on the onset strength
onset_mean, onset_std  2     onset strength (rhythmic activity)
major/minor_key_corr   3     best Krumhansl–Kessler major and minor key-profile correlation of the mean
major_minus_minor            chroma, and their difference (a crude mode cue for valence)
contrast_1..7          7     spectral contrast means (6 bands + the rest)
mfcc_mean_1..13        13    MFCC means (MFCC of the dB mel spectrogram: timbre)
mfcc_std_1..13         13    MFCC standard deviations
chroma_0..11           12    mean chroma (pitch classes C..B)
=====================  ====  ==========================================================================

Songs longer than 1.5 × :data:`EXCERPT_SECONDS` are analysed on an excerpt of that length from their middle, since
the model was trained on 30-s previews and reading a whole album track would take several times as long; shorter
files are read whole.

The model (``moodtune/data/audio_model.json``, trained by ``scripts/train_audio_model.py``) is two L2 logistic
regressions on the standardised features: P(valence > centre) and P(arousal > centre). Inference needs numpy
only; feature extraction needs librosa (the ``audio`` extra) and is imported lazily.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from moodtune.errors import LibraryError

SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
EXCERPT_SECONDS = 30.0
#: Audio files the importer reads (libsndfile decodes all but m4a; m4a needs ffmpeg through audioread).
AUDIO_SUFFIXES = (".mp3", ".flac", ".ogg", ".m4a", ".wav")

# Krumhansl & Kessler (1982) key profiles, C major / C minor; rotated for the other 11 tonics.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

FEATURE_NAMES: tuple[str, ...] = (
    "rms_mean", "rms_std", "centroid_mean", "centroid_std", "rolloff_mean", "flatness_mean", "zcr_mean",
    "tempo_bpm", "onset_mean", "onset_std", "major_key_corr", "minor_key_corr", "major_minus_minor",
    *(f"contrast_{i}" for i in range(1, 8)),
    *(f"mfcc_mean_{i}" for i in range(1, 14)),
    *(f"mfcc_std_{i}" for i in range(1, 14)),
    *(f"chroma_{i}" for i in range(12)),
)

#: Where a predicted probability lands on [0, 1]: p = 0.5 → 0.5, p = 0 or 1 → the edges of the span the
#: emotion anchors cover (about 0.15–0.85), so a confident audio guess never looks more extreme than an anchor.
POSITION_SPAN = 0.35


def _key_correlations(chroma_mean: np.ndarray) -> tuple[float, float]:
    """Best correlation of a mean chroma vector, shape (12,), with any major and any minor key profile."""
    if np.std(chroma_mean) < 1e-12:
        return 0.0, 0.0  # silence or white noise: no key at all, and corrcoef would divide by zero
    best = []
    for profile in (_MAJOR, _MINOR):
        rotated = np.stack([np.roll(profile, k) for k in range(12)])  # (12, 12)
        best.append(max(float(np.corrcoef(chroma_mean, r)[0, 1]) for r in rotated))
    return best[0], best[1]


def features_from_signal(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The :data:`FEATURE_NAMES` features of a mono signal.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono samples, float, roughly in [-1, 1]. Any length: clips shorter than one STFT frame are zero-padded.
    sr : int
        Its sample rate; resampled to :data:`SAMPLE_RATE` when different.

    Returns
    -------
    np.ndarray, shape (58,)
        Finite float64 values in :data:`FEATURE_NAMES` order.
    """
    import librosa

    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(y)):
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    if sr != SAMPLE_RATE and len(y):
        y = librosa.resample(y, orig_sr=sr, target_sr=SAMPLE_RATE)
    if len(y) < N_FFT:  # a 0.1-s clip still gives a few frames instead of librosa's "n_fft too large" warning
        y = np.pad(y, (0, N_FFT - len(y)))
    with warnings.catch_warnings():
        # Silence and pure tones make librosa warn about empty frequency sets and tuning; the values are still
        # defined (and non-finite ones are zeroed below).
        warnings.simplefilter("ignore")
        stft = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))  # (1025, frames)
        power = stft ** 2
        rms = librosa.feature.rms(S=stft, frame_length=N_FFT, hop_length=HOP)[0]
        centroid = librosa.feature.spectral_centroid(S=stft, sr=SAMPLE_RATE)[0]
        rolloff = librosa.feature.spectral_rolloff(S=stft, sr=SAMPLE_RATE)[0]
        flatness = librosa.feature.spectral_flatness(S=stft)[0]
        zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)[0]
        # Onset strength of the dB magnitude spectrogram and chroma of the magnitude (not power) spectrogram:
        # the definitions behind the reference feature file, checked value for value.
        onset = librosa.onset.onset_strength(S=librosa.amplitude_to_db(stft), sr=SAMPLE_RATE, hop_length=HOP)
        tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=SAMPLE_RATE, hop_length=HOP))[0])
        chroma = librosa.feature.chroma_stft(S=stft, sr=SAMPLE_RATE)  # (12, frames)
        contrast = librosa.feature.spectral_contrast(S=stft, sr=SAMPLE_RATE)  # (7, frames)
        mel = librosa.feature.melspectrogram(S=power, sr=SAMPLE_RATE)
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=13)  # (13, frames)
    chroma_mean = np.nan_to_num(chroma.mean(axis=1))
    major, minor = _key_correlations(chroma_mean)
    values = np.concatenate([
        [rms.mean(), rms.std(), centroid.mean(), centroid.std(), rolloff.mean(), flatness.mean(), zcr.mean(),
         tempo, onset.mean(), onset.std(), major, minor, major - minor],
        contrast.mean(axis=1), mfcc.mean(axis=1), mfcc.std(axis=1), chroma_mean,
    ]).astype(np.float64)
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def load_excerpt(path: str | Path, *, seconds: float = EXCERPT_SECONDS) -> np.ndarray:
    """Decode the middle ``seconds`` of an audio file as mono float32 at :data:`SAMPLE_RATE`.

    Returns
    -------
    np.ndarray, shape (n,)

    Raises
    ------
    LibraryError
        If the file cannot be decoded (names the file).
    """
    path = Path(path)
    try:
        import librosa
    except ImportError as exc:
        raise LibraryError(f"{path}: reading audio needs librosa; install it with pip install 'moodtune[audio]'") \
            from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # audioread's deprecation notes when libsndfile cannot read a file
            duration = _duration(path)
            if duration and duration > 1.5 * seconds:
                y, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True, offset=duration / 2 - seconds / 2,
                                    duration=seconds)
            else:  # a preview-length clip is read whole, exactly as the training clips were
                y, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True)
    except Exception as exc:  # decoders raise many types (soundfile, audioread, EOFError, ...)
        raise LibraryError(f"{path}: cannot decode audio ({type(exc).__name__}: {exc}); check that the file "
                           "plays, or convert it to mp3, flac, ogg or wav") from exc
    return y


def _duration(path: Path) -> float | None:
    try:
        import soundfile

        return float(soundfile.info(str(path)).duration)
    except Exception:  # not readable by libsndfile: librosa falls back to audioread, read from the start
        return None


def file_features(path: str | Path) -> np.ndarray:
    """:func:`features_from_signal` of a file's middle excerpt; shape (58,). Raises LibraryError if unreadable."""
    return features_from_signal(load_excerpt(path))


@dataclass(frozen=True)
class AudioModel:
    """The shipped linear model: standardise, then one logistic regression per axis.

    Attributes
    ----------
    feature_names : tuple of str, length F
    means, stds : np.ndarray, shape (F,)
        Standardisation fitted on the training clips.
    coefficients : np.ndarray, shape (2, F)
        Rows: valence, arousal (on standardised features).
    intercepts : np.ndarray, shape (2,)
    metrics : dict
        Cross-validated figures as the training script measured them.
    """

    feature_names: tuple[str, ...]
    means: np.ndarray
    stds: np.ndarray
    coefficients: np.ndarray
    intercepts: np.ndarray
    metrics: dict

    @classmethod
    def from_dict(cls, data: dict) -> AudioModel:
        names = tuple(data["feature_names"])
        if names != FEATURE_NAMES:
            raise LibraryError("audio model: its features differ from moodtune.music.audio.FEATURE_NAMES; "
                               "retrain it with scripts/train_audio_model.py")
        return cls(names, np.asarray(data["means"], float), np.asarray(data["stds"], float),
                   np.asarray([data["coefficients"]["valence"], data["coefficients"]["arousal"]], float),
                   np.asarray([data["intercepts"]["valence"], data["intercepts"]["arousal"]], float),
                   dict(data.get("metrics", {})))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(valence high), P(arousal high) for features of shape (F,) or (N, F); returns shape (2,) or (N, 2)."""
        x = (np.asarray(features, dtype=np.float64) - self.means) / self.stds
        return 1.0 / (1.0 + np.exp(-(x @ self.coefficients.T + self.intercepts)))

    def predict(self, features: np.ndarray) -> tuple[float, float, float]:
        """(valence, arousal, confidence) on [0, 1] for one clip's features, shape (F,).

        Confidence is the mean distance of the two probabilities from 0.5, times 2: 0 when the model cannot
        tell, 1 when it is sure of both signs (which, at about 70 % / 85 % accuracy, it rarely should be).
        """
        p = self.probabilities(features)
        valence, arousal = (0.5 + POSITION_SPAN * (2 * p - 1)).tolist()
        return valence, arousal, float(np.mean(np.abs(2 * p - 1)))


@lru_cache(maxsize=1)
def shipped_model() -> AudioModel | None:
    """The model in ``moodtune/data/audio_model.json``, or None when it is not there."""
    source = resources.files("moodtune").joinpath("data/audio_model.json")
    if not source.is_file():
        return None
    return AudioModel.from_dict(json.loads(source.read_text(encoding="utf-8")))


def place_audio(path: str | Path) -> tuple[float, float, float]:
    """(valence, arousal, confidence) of an audio file by the shipped model.

    Raises
    ------
    LibraryError
        If librosa is missing, the file cannot be decoded, or no model ships.
    """
    model = shipped_model()
    if model is None:
        raise LibraryError("no audio model ships with this moodtune; train one with scripts/train_audio_model.py")
    valence, arousal, confidence = model.predict(file_features(path))
    if not (math.isfinite(valence) and math.isfinite(arousal)):
        raise LibraryError(f"{path}: the audio model gave no position")
    return valence, arousal, confidence
