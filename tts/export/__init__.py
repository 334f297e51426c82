"""The sample page: synthesised audio for fixed texts beside its mels, as static HTML."""
