"""One thread count for every library a benchmark times: torch's intra-op pool and, through
threadpoolctl where it is installed, the BLAS/OpenMP pools scikit-learn and NumPy use."""

import torch


def limit_threads(n: int) -> None:
    torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return
    threadpool_limits(n)
