"""Oversamplers, all following imbalanced-learn's ``fit_resample`` contract.

``registry.build_sampler`` turns a method config (``conf/method/*.yaml``: a
sampler class and its traits) and a ratio into a sampler instance; ``None``
means "no resampling" (ORG). The LLM samplers are imported only when a
method names them, so SM runs never load llama.cpp.
"""
