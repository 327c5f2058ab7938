"""The sentence-transformers encoder (torch, or ONNX/OpenVINO through sentence-transformers' `backend=`)."""

from __future__ import annotations

import copy
import os
import threading
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from latent.embedder.base import Tokenized
from latent.vectors import unit_rows


def physical_cores() -> int:
    """Cores to give intra-op threads: hyper-threads only add contention for dense matmuls."""
    try:
        siblings = {
            Path(p, "topology/thread_siblings_list").read_text().strip()
            for p in Path("/sys/devices/system/cpu").glob("cpu[0-9]*")
            if Path(p, "topology/thread_siblings_list").exists()
        }
        return max(1, len(siblings))
    except OSError:
        return max(1, os.cpu_count() or 1)


class SentenceTransformerEncoder:
    """Loads the model once; encodes in length-sorted batches (sentence-transformers sorts each call).

    One instance is shared by every thread of the server, so `encode` must be safe to call concurrently:
    torch inference and ONNX Runtime's `InferenceSession.run` are; OpenVINO gets one infer request per
    call (latent/embedder/ov_requests.py). A backend that cannot be made safe is serialised (`serialise`).
    """

    special_tokens = 2

    def __init__(
        self,
        model_path: Path,
        model_name: str,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        threads: int | None = None,
        backend: str = "torch",
        model_kwargs: dict | None = None,
    ):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads or physical_cores())
        st_backend = "torch" if backend == "torch" else backend
        kwargs = {"backend": st_backend} if st_backend != "torch" else {}
        if model_kwargs:
            kwargs["model_kwargs"] = model_kwargs
        self.model = SentenceTransformer(str(model_path), device=device, local_files_only=True, **kwargs)
        self.model_name = model_name
        self.backend = backend
        self.batch_size = batch_size
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_seq_length = int(self.model.max_seq_length)
        self.tokenizer = self.model.tokenizer
        # A private copy for `tokenize`: a Rust tokenizer shared between threads fails with "Already
        # borrowed" when one call switches truncation off (ours) while another encodes (truncating).
        # Its Rust tokenizer is called directly (no truncation, no padding, plain lists): transformers'
        # wrapper spends as long converting the output as the tokenizer spends tokenizing.
        self._span_tokenizer = copy.deepcopy(self.tokenizer)
        self._spans = self._span_tokenizer.backend_tokenizer
        self._spans.no_truncation()
        self._spans.no_padding()

        self._model_inputs = self._ids_path_inputs()
        self._serial: threading.Lock | None = None

    def serialise(self) -> None:
        """Run one forward pass at a time: the fallback for a model whose inference is not thread-safe."""
        self._serial = threading.Lock()

    def _exclusive(self):
        return self._serial or nullcontext()

    def tokenize(self, texts: list[str]) -> list[Tokenized]:
        to_tokens = self._span_tokenizer.convert_ids_to_tokens
        return [
            Tokenized(ids=e.ids, offsets=e.offsets, id_to_token=to_tokens, word_ids=e.word_ids)
            for e in self._spans.encode_batch(list(texts), add_special_tokens=False)
        ]

    def _ids_path_inputs(self) -> list[str] | None:
        """The model inputs `encode_ids` builds, or None where ids cannot stand in for text.

        Chunk ids are the document's ids sliced at word edges; that equals tokenizing the chunk's text
        only for tokenizers that split words independently (WordPiece after BERT's pre-tokenizer), so
        other tokenizers keep the text path. A probe checks the whole input against the model's own.
        """
        from tokenizers import models, pre_tokenizers

        backend = self._spans
        if not isinstance(backend.model, models.WordPiece) or not isinstance(
            backend.pre_tokenizer, pre_tokenizers.BertPreTokenizer
        ):
            return None
        probe = ["Latent's probe: tokenization, unbelievably (2026) naïve ünïcode words."]
        expected = self.model.preprocess(probe)
        names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in expected]
        built = self._features([self.tokenize(probe)[0].ids], names)
        same = all(built[k].tolist() == expected[k].tolist() for k in names)
        return names if same else None

    def _features(self, rows: list[list[int]], names: list[str]) -> dict:
        """Padded model inputs for id rows (special tokens added the tokenizer's way)."""
        import torch

        seqs = [self._span_tokenizer.build_inputs_with_special_tokens(r) for r in rows]
        width = max(len(q) for q in seqs)
        input_ids = np.full((len(seqs), width), self._span_tokenizer.pad_token_id or 0, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for i, q in enumerate(seqs):
            input_ids[i, : len(q)] = q
            mask[i, : len(q)] = 1
        arrays = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        return {k: torch.from_numpy(arrays[k]) for k in names}

    @property
    def encode_ids(self):
        """`encode_ids(rows)` when this model takes token ids directly (see `_ids_path_inputs`), else None."""
        return self._encode_ids if self._model_inputs else None

    def _encode_ids(self, rows: list[list[int]], batch_size: int | None = None) -> np.ndarray:
        """Vectors for token-id rows (no special tokens), batched by length like `encode` batches texts."""
        import torch

        out = np.empty((len(rows), self.dimension), dtype=np.float32)
        order = np.argsort([-len(r) for r in rows], kind="stable")
        size = batch_size or self.batch_size
        for lo in range(0, len(rows), size):
            picked = order[lo : lo + size]
            features = self._features([rows[i] for i in picked], self._model_inputs)
            with self._exclusive(), torch.inference_mode():
                out[picked] = self.model.forward(features)["sentence_embedding"].float().numpy()
        return unit_rows(out)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend == "torch" and len(texts) <= 8:
            return self._encode_small(list(texts))
        with self._exclusive():
            vectors = self.model.encode(
                list(texts),
                batch_size=batch_size or self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return unit_rows(vectors)

    def _encode_small(self, texts: list[str]) -> np.ndarray:
        """A query's path: one forward pass, skipping encode()'s per-call device moves and sorting
        (measured ~35% of a one-query encode)."""
        import torch

        features = self.model.preprocess(texts)
        with self._exclusive(), torch.inference_mode():
            out = self.model.forward(dict(features))["sentence_embedding"]
        return unit_rows(out.float().numpy())
