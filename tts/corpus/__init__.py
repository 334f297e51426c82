"""Training data: the corpus builder, the feature cache and datasets, ground-truth-aligned mels."""
