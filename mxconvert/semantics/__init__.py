"""MXNet's op semantics, one module per op family."""
