"""Defaults of writing ground-truth-aligned mels (:mod:`tts.corpus.gta`), importable without torch.

The command line shows them in its help, which must not wait for torch to load.
"""

# The splits a vocoder is fine-tuned and validated on; test stays unseen.
DEFAULT_SPLITS = ("train", "val")
# Clips per forward pass: with length-sorted batches padding stays small, and 16 LJSpeech-length
# clips keep the aligner's (B, T, L) attention in a few hundred MB.
DEFAULT_BATCH_SIZE = 16
