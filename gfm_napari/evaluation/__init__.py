"""Measuring segmentation quality and speed on real data."""
