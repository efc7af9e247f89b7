"""lsh-bench: a reproducible benchmark harness for minority oversampling.

SMOTE (SM), LLM-generated rows (LM) and the LSH hybrid (LS: LLM seeds, SMOTE
expansion), evaluated with the protocol of the LSH study (see README.md).
"""

__version__ = "0.1.0"
