"""Static int8 quantization of an exported OpenVINO model with NNCF, calibrated on offline text.

Static int8 quantizes activations as well as weights (dynamic ONNX int8 only does weights and
re-scales activations on every call), and SmoothQuant moves activation outliers into the weights
first, which is what keeps MiniLM's vectors close to fp32 (mean cosine 0.998 on SciFact, bench/encode.py).
sentence-transformers' own `export_static_quantized_openvino_model` draws its calibration set from
the hub, so this calls NNCF (what optimum-intel uses underneath) with texts that are always on disk:
docstrings of the Python standard library (the demo corpus), never the evaluation data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

CALIBRATION_TEXTS = 200


def calibration_texts(n: int | None = None) -> list[str]:
    """n (default CALIBRATION_TEXTS) varied technical texts spread evenly over the demo corpus (deterministic)."""
    from latent.ingest.demo import demo_documents

    n = n or CALIBRATION_TEXTS
    docs = [f"{d.title} {d.text}" for d in demo_documents()]
    step = max(1, len(docs) // n)
    return docs[::step][:n]


def quantize_openvino_int8(fp32_root: Path, fp32_file: str, target: Path, texts: list[str]) -> None:
    """Write an int8 copy of fp32_root/fp32_file to `target` (.xml + .bin), atomically renamed into place.

    Args:
        fp32_root: a sentence-transformers folder holding the OpenVINO fp32 export.
        fp32_file: the export's .xml, relative to fp32_root.
        target: where the int8 .xml goes (its .bin lands beside it).
        texts: calibration texts, tokenized exactly as the encoder will tokenize queries.
    """
    import nncf
    import openvino as ov
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(fp32_root), device="cpu", backend="openvino", local_files_only=True, model_kwargs={"file_name": fp32_file}
    )
    graph = ov.Core().read_model(str(fp32_root / fp32_file))
    names = [port.get_any_name() for port in graph.inputs]

    def features(text: str) -> dict:
        encoded = model.preprocess([text])
        return {name: encoded[name].numpy() for name in names if name in encoded}

    log.info("quantizing %s to static int8 on %d calibration texts (once)", fp32_root, len(texts))
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars must not corrupt `--json` output
        quantized = nncf.quantize(
            graph,
            nncf.Dataset(texts, features),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(texts),
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.stem}.", dir=target.parent))
    try:
        ov.save_model(quantized, str(tmp / target.name), compress_to_fp16=False)
        # .bin first: a reader that sees the .xml must find its weights
        os.replace(tmp / target.with_suffix(".bin").name, target.with_suffix(".bin"))
        os.replace(tmp / target.name, target)
    finally:
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
