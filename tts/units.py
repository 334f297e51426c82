"""Unit conversions shared across the pipeline, defined once."""

MS_PER_S = 1000.0  # milliseconds in a second: timings are reported in ms, audio lengths in s
