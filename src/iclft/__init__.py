"""iclft: controlled studies of in-context learning versus fine-tuning."""

__version__ = "0.1.0"
