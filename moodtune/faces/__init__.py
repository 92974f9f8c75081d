"""Faces: read photos, find faces, read their expressions, draw results."""

from moodtune.faces.annotate import annotate, save_image
from moodtune.faces.classify import FaceEmotion, analyze, classify, load_model
from moodtune.faces.detect import Face, crop_face, detect_faces
from moodtune.faces.image import image_from_bytes, load_image

__all__ = [
    "Face", "FaceEmotion", "analyze", "annotate", "classify", "crop_face", "detect_faces", "image_from_bytes",
    "load_image", "load_model", "save_image",
]
