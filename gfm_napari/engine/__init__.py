"""Headless interactive segmentation: embed a plane once, answer every prompt with the decoder."""
