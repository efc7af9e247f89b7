"""Oversamplers, all following imbalanced-learn's ``fit_resample`` contract.

``factory.make_sampler`` maps a method config (``conf/method/*.yaml``) and a
ratio to a sampler instance; ``None`` means "no resampling" (ORG). The LLM
samplers are imported lazily so SM runs never load llama.cpp.
"""
