"""Datasets: loading (mirror, embedded, OpenML), schema, splits and scenarios."""
