"""Musipainter: music -> an audio token for Stable Diffusion v1-4 (BEATs + projection + attentive pooling)."""
