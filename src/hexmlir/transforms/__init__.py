"""One module per mechanism. Each exposes `run(module, cx)`; pipeline.py orders them."""
