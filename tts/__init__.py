"""ganspeech text-to-speech: frontend, LSTM text-to-mel, synthesis pipeline and command line."""
