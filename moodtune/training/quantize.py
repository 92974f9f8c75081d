"""8-bit weights and activations for an exported model: the same network at a third of the time and size.

onnxruntime's static quantization (``quantize_static``) stores each convolution's weights as int8 (one scale
per output channel) and its activations as uint8, with ranges measured by running real faces through the
float model ("calibration"). On this project's CPUs (AVX-512 VNNI) the integer convolutions run about three
times as fast as float ones, which lets an ensemble of networks fit a single network's time budget. Weights
use 7 of the 8 bits (``reduce_range``): CPUs without VNNI multiply uint8 by int8 in 16-bit pairs, which can
overflow at full range (onnxruntime's quantization guide); on FER+ Valid the shipped ensemble scores the same
either way (86.6 % and 86.5 %).

Only the convolutional trunk is quantized. Everything from the classifier head on (its Gemm, the softmax, an
ensemble's average) stays float: 8-bit probabilities (steps of 1/256) would blur the confidences that an
ensemble averages and that people read.

    report = quantize_model("float.onnx", "int8.onnx", calibration=crops)   # crops (N, S, S) uint8 gray
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from moodtune.errors import ParameterError

#: The operators quantized where they come before the classifier head (``_head_and_after``).
QUANTIZED_OPS = ["Conv", "Add", "Mul", "MaxPool", "GlobalAveragePool", "Relu", "Clip"]
METHOD = ("onnxruntime static quantization (QDQ): int8 convolution weights in a 7-bit range, one scale per "
          "output channel; uint8 activations with ranges from calibration faces; classifier head and softmax in "
          "float")


def quantize_model(float_path, out_path, *, calibration: np.ndarray, check: np.ndarray | None = None,
                   source: str = "", batch_size: int = 32) -> dict:
    """Write an 8-bit copy of an exported model and its card, and compare it with the float model.

    Parameters
    ----------
    float_path : path
        An ``.onnx`` model exported by moodtune, its card beside it.
    out_path : path
        Where the quantized ``.onnx`` goes; the card is copied beside it with a ``quantization`` entry added
        under ``training``.
    calibration : np.ndarray, shape (N, S, S) uint8
        Gray face crops at the card's input side; their activations set the 8-bit ranges. A few hundred
        faces of the kind the model will see are enough.
    check : np.ndarray, shape (M, S, S) uint8, optional
        Other faces on which the quantized model's answers are compared with the float model's (default:
        the calibration faces).
    source : str
        Where the calibration faces came from, for the card.
    batch_size : int
        Faces per calibration batch.

    Returns
    -------
    dict
        ``{"faces": N, "checked": M, "agreement": share of faces whose top emotion is unchanged,
        "max_difference": the largest change of any probability}``.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from moodtune.faces.classify import EmotionModel
    from moodtune.training.evaluate import onnx_predictor

    float_path, out_path = Path(float_path), Path(out_path)
    float_model = EmotionModel(float_path)
    side = float_model.card.input_size
    for name, faces in (("calibration", calibration), ("check", check)):
        if faces is not None and (faces.ndim != 3 or faces.shape[1:] != (side, side) or len(faces) == 0):
            raise ParameterError(f"{name} faces must have shape (N, {side}, {side}) (the card's input side) "
                                 f"with N >= 1, got {faces.shape}")
    if float_model.card.colour != "gray":
        raise ParameterError(f"{float_path}: only gray models can be quantized here (card colour "
                             f"{float_model.card.colour!r})")
    batches = [float_model.crops_to_tensor(calibration[i:i + batch_size])
               for i in range(0, len(calibration), batch_size)]
    input_name = float_model.input_name

    class Faces(CalibrationDataReader):
        def __init__(self):
            self.remaining = iter(batches)

        def get_next(self):
            batch = next(self.remaining, None)
            return None if batch is None else {input_name: batch}

    faces = calibration if check is None else check
    with tempfile.TemporaryDirectory() as scratch:
        # Shape inference and graph clean-up first, as onnxruntime recommends. Everything is written in a
        # scratch folder and moved beside the result only once checked: a failure leaves nothing half-written.
        prepared, quantized = Path(scratch) / "prepared.onnx", Path(scratch) / "quantized.onnx"
        quant_pre_process(str(float_path), str(prepared))
        quantize_static(str(prepared), str(quantized), Faces(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True,
                        op_types_to_quantize=QUANTIZED_OPS, nodes_to_exclude=_head_and_after(prepared))
        card = float_model.card
        float_model.card.save(quantized.with_suffix(".json"))
        # Both through the evaluation code path (inference's preprocessing from each card).
        before, after = onnx_predictor(float_path).predict(faces), onnx_predictor(quantized).predict(faces)
        report = {"faces": int(len(calibration)), "checked": int(len(faces)),
                  "agreement": float((before.argmax(1) == after.argmax(1)).mean()),
                  "max_difference": float(np.abs(before - after).max())}
        card.training = {**card.training, "quantization": {"method": METHOD, "calibration_data": source, **report}}
        out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(quantized, out_path)
        card.save(out_path.with_suffix(".json"))
    return report


def _head_and_after(path: Path) -> list[str]:
    """Names of the classifier heads (Gemm) and of every node downstream of one; unnamed nodes get names."""
    import onnx

    model = onnx.load(str(path))
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"{node.op_type}_{i}"
    onnx.save(model, str(path))
    downstream, names = set(), []
    for node in model.graph.node:  # ONNX nodes are stored in topological order
        if node.op_type == "Gemm" or downstream.intersection(node.input):
            downstream.update(node.output)
            names.append(node.name)
    return names
