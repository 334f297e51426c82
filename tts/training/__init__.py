"""Training recipes for the three models; nothing under tts/ or vocoders/ model code imports this."""
