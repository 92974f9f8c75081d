"""moodtune: read a facial expression, play music that fits or lifts the mood.

The public surface is small on purpose::

    import moodtune
    image = moodtune.load_image("photo.jpg")          # RGB uint8 array (H, W, 3)
    faces = moodtune.detect_faces(image)              # list of Face(box, score, landmarks), largest first
    probabilities = moodtune.classify(image, faces)   # (N, 7) array, columns in moodtune.EMOTIONS order
    results = moodtune.analyze(image)                 # both at once: list of FaceEmotion
    playlist = moodtune.recommend(probabilities=probabilities[0], n=10)

Every error caused by bad input is a :class:`MoodtuneError`.
"""

from moodtune.emotions import EMOTIONS
from moodtune.errors import ImageError, LibraryError, MoodtuneError, NoFaceError, ParameterError
from moodtune.faces import Face, FaceEmotion, analyze, classify, detect_faces, load_image
from moodtune.music import Library, Song
from moodtune.recommend import Pick, Playlist, recommend

__version__ = "0.1.0"

__all__ = [
    "EMOTIONS", "Face", "FaceEmotion", "ImageError", "Library", "LibraryError", "MoodtuneError", "NoFaceError",
    "ParameterError", "Pick", "Playlist", "Song", "analyze", "classify", "detect_faces", "load_image", "recommend",
]
