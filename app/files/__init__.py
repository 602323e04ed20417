"""Uploaded files: one storage interface (local disk or S3-compatible), limits, type by content,
image checks in the worker."""
