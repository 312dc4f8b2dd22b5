"""The pretrained aiSFX sound-effects network (ISMIR 2022) as an audio encoder.

Imported through the encoder registry only (``aisfx``); needs the optional
package aisfx, which loading the encoder asks for when it is missing.
"""

from __future__ import annotations

from typing import Any

import librosa
import numpy as np
import torch

from fusionrec.encoders.audio import AudioConfig, AudioEncoder
from fusionrec.errors import EncoderError

try:  # an optional package outside fusionrec's extras: the encoder names it when it loads
    from aisfx.inference import get_path_modelWeights
    from aisfx.models.cnn2d import EmbeddingNet
except ImportError:
    get_path_modelWeights = EmbeddingNet = None


class AisfxConfig(AudioConfig):
    sample_rate: int = 44100
    batch_size: int = 16
    num_threads: int | None = None


class AisfxEncoder(AudioEncoder):
    """The aiSFX sound-effects network (ISMIR 2022), 512-d, averaged over ~2 s blocks."""

    name = "aisfx"
    config_class = AisfxConfig
    # The package's spectrogram settings (aisfx.inference): 96 mel bands, 2048/1024 STFT, 100-frame blocks.
    n_mels, block_length, hop_length, frames_per_block, spec_max = 96, 2048, 1024, 100, 9.457798957824707

    @property
    def dim(self) -> int:
        return 512

    def load(self) -> None:
        if EmbeddingNet is None:
            raise EncoderError("encoder 'aisfx' needs the optional package aisfx; install it or use name='mel'")
        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)
        # The one pickle-based checkpoint fusionrec loads: it ships inside the installed aisfx package
        # (a (state_dict, datasets) tuple), so weights_only=True cannot read it.
        weights, _ = torch.load(get_path_modelWeights(), map_location="cpu", weights_only=False)
        prefix = "embedding_net."
        network = EmbeddingNet("max", 3, 1, 64)
        network.load_state_dict({k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)})
        self.network_ = network.eval()

    def embed(self, decoded: list[Any]) -> np.ndarray:
        rows = []
        for waveform in decoded:
            blocks = torch.from_numpy(self._blocks(waveform))  # (n_blocks, 100, 96)
            with torch.inference_mode():
                rows.append(self.network_(blocks).mean(dim=0).numpy())  # (512,)
        return np.stack(rows).astype(np.float32)

    def _blocks(self, waveform: np.ndarray) -> np.ndarray:
        peak = float(np.max(np.abs(waveform))) or 1.0
        mel = librosa.feature.melspectrogram(
            y=waveform / peak,
            sr=self.config.sample_rate,
            n_mels=self.n_mels,
            norm=1.0,
            htk=True,
            hop_length=self.hop_length,
            win_length=self.block_length,
            n_fft=self.block_length,
        )
        spec = (np.log10(mel * 10000.0 + 1.0) / self.spec_max).T.astype(np.float32)  # (frames, 96)
        size, hop = self.frames_per_block, self.frames_per_block // 2
        if len(spec) < size:
            spec = np.vstack([spec, np.zeros((size - len(spec), self.n_mels), np.float32)])
        starts = range(0, len(spec) - size + 1, hop)
        return np.stack([spec[s : s + size] for s in starts])  # (n_blocks, 100, 96)
