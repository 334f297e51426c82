"""Quality measurement: objective metrics, speech recognition, copy synthesis and the eval run."""
