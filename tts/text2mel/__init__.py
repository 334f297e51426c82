"""Symbol ids to mel frames: the text-to-mel model, its monotonic alignment and its losses."""
