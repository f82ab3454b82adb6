"""Fast implementations of closed forms: torch loops on CPU, Triton kernels on CUDA.

Internal: not part of the public contract."""
