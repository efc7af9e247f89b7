"""Classifier grids, preprocessing pipelines and grid evaluation."""
