"""numba kernels; the Python that validates input and calls them lives in rec_codec."""
