"""Code generation: printers per backend, emission and compilation of kernels."""
