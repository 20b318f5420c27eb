"""Training on top of cached embeddings: prompt simulation, a resumable loop, presets (clicks, adapters)."""
