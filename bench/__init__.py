"""Benchmarks for uaipack; `python -m bench.server` measures the inference server."""
