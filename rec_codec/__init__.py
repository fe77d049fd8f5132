"""reccodec: relative entropy coding (channel simulation) with numba kernels."""
