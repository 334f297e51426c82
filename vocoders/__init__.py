"""Neural vocoders (HiFi-GAN, WaveNet) and the audio code they share."""
