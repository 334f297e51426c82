"""Latency benchmark: run the pipeline on fixed texts, report per stage, render tables and plots."""
