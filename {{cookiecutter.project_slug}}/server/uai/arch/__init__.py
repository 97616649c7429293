"""Base classes for inference code, one module per framework, under UAI's import paths."""
