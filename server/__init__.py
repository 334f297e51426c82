"""The gRPC synthesis service (``ganspeech.v1.Synthesizer``), its server process and a client."""
