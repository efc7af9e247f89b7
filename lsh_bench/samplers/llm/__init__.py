"""LLM row generator: client + replay cache, schemas, state machine, pipeline."""
