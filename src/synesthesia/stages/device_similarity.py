"""The similarity screen on a torch device (a GPU, or torch's CPU for tests).

Only the float32 screen moves: :class:`DeviceItems` uploads the item matrix
once and answers :func:`~synesthesia.stages.similarity.screen_topk`'s
question (every column within ``slack`` of each row's k-th best float32
similarity) with the same return values. Everything that decides a pair
stays on the host: candidate lists, certified bounds, the exact float64
rescoring (:func:`~synesthesia.stages.similarity.exact_similarities`) and the
greedy's heap. So the pairs are the same as on the CPU bit for bit, ties
included, however the device rounds its products — provided every product
is an IEEE float32 one, which is what the error bound assumes: TF32 (and any
other reduced-precision float32 matmul) is switched off while the screen
runs (:func:`ieee_float32`).

The device's float32 similarities are not the CPU's (another summation
order), so the candidate lists may differ at their margin; the bound of
:func:`~synesthesia.stages.similarity.similarity_error_bound` holds for both.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is installed with the [ml] extra
        raise RuntimeError(
            "pairing on a device needs torch: pip install torch (or the project's [ml] extra); "
            "without a device the pairing runs on numpy"
        ) from exc
    return torch


@contextmanager
def ieee_float32():
    """Full IEEE float32 matrix products on CUDA while inside (no TF32)."""
    torch = _torch()
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):  # torch >= 2.9
        old, matmul.fp32_precision = matmul.fp32_precision, "ieee"
        try:
            yield
        finally:
            matmul.fp32_precision = old
    else:  # pragma: no cover - older torch
        old, matmul.allow_tf32 = matmul.allow_tf32, False
        try:
            yield
        finally:
            matmul.allow_tf32 = old


class DeviceItems:
    """An item matrix (``[m, d]`` float32, as :func:`~synesthesia.stages.similarity.as_matrix`
    returns) held on a torch device, to screen query blocks against."""

    def __init__(self, items: np.ndarray, device: str):
        from synesthesia.models.devices import resolve_device

        torch = _torch()
        self.device = resolve_device(device)
        self.items = torch.from_numpy(np.ascontiguousarray(items, dtype=np.float32)).to(self.device)

    def __len__(self) -> int:
        return int(self.items.shape[0])

    def _block(self, start: int, stop: int, cols):
        return self.items[start:stop] if cols is None else self.items.index_select(0, cols[start:stop])

    def screen_topk(self, queries: np.ndarray, k: int, slack: float, cols: np.ndarray | None, col_block: int):
        """:func:`~synesthesia.stages.similarity.screen_topk` on the device
        (same arguments and return values, same guarantee)."""
        torch = _torch()
        if k < 1:
            raise ValueError("k must be >= 1")
        n = len(queries)
        m = len(self) if cols is None else len(cols)
        with ieee_float32(), torch.no_grad():
            Q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)).to(self.device)
            idx = None if cols is None else torch.from_numpy(np.asarray(cols, dtype=np.int64)).to(self.device)
            if m <= k:
                allc = np.arange(m, dtype=np.int64) if cols is None else np.asarray(cols, dtype=np.int64)
                vals = (Q @ self._block(0, m, idx).T).reshape(-1).cpu().numpy() if m else np.zeros(0, np.float32)
                return np.repeat(np.arange(n, dtype=np.int64), m), np.tile(allc, n), vals, np.full(n, -np.inf)
            slack32 = torch.tensor(slack, dtype=torch.float32, device=self.device)
            top = torch.full((n, k), -torch.inf, dtype=torch.float32, device=self.device)
            found = []
            for start in range(0, m, col_block):
                stop = min(start + col_block, m)
                S = Q @ self._block(start, stop, idx).T
                block_top = torch.topk(S, min(k, stop - start), dim=1, sorted=False).values
                top = torch.topk(torch.cat([top, block_top], dim=1), k, dim=1, sorted=False).values
                # The running k-th best (this block included) minus the slack:
                # the final k-th best is >= it, so nothing kept later is lost.
                thr = top.min(dim=1).values - slack32
                r, c = torch.nonzero(S >= thr[:, None], as_tuple=True)
                found.append((r, c + start, S[r, c]))
                del S
            kth = top.min(dim=1).values
            r = torch.cat([f[0] for f in found])
            c = torch.cat([f[1] for f in found])
            v = torch.cat([f[2] for f in found])
            keep = v >= (kth - slack32)[r]
            r, c, v = r[keep].cpu().numpy(), c[keep].cpu().numpy(), v[keep].cpu().numpy()
            kth = kth.cpu().numpy().astype(np.float64)
        order = np.lexsort((c, r))
        r, c, v = r[order].astype(np.int64), c[order].astype(np.int64), v[order]
        if cols is not None:
            c = np.asarray(cols, dtype=np.int64)[c]
        return r, c, v, kth

    def similarity_pass(self, queries: np.ndarray, row_block: int, col_block: int) -> float:
        """One plain pass over every similarity on the device (matrix products
        only; the benchmark's yardstick). Returns a checksum."""
        torch = _torch()
        with ieee_float32(), torch.no_grad():
            total = torch.zeros((), dtype=torch.float32, device=self.device)
            for r0 in range(0, len(queries), row_block):
                q = torch.from_numpy(np.ascontiguousarray(queries[r0 : r0 + row_block])).to(self.device)
                for c0 in range(0, len(self), col_block):
                    total += (q @ self.items[c0 : c0 + col_block].T)[0, 0]
            return float(total)  # waits for the device
