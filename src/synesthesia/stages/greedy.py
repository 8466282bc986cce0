"""Exact global greedy pairing of audio items with images (ArtSound, Eq. 4).

The rule
--------
Among all (audio, still-available image) pairs, take the one with the
highest similarity, remove both, repeat. Ties are broken by the audio's id,
then the image's id (callers sort both sides by id, so here: by row index,
then column index). This total order makes the result unique; it is what
:func:`greedy_reference` computes by brute force (sort every pair once,
scan).

Relation to Eq. 4
-----------------
Eq. 4 says: for each audio ``a_j``, pick ``argmax`` over the available
images, then remove it. Every step of the global greedy is such a step (the
chosen image *is* the best available one for the chosen audio); what Eq. 4
leaves open is the order of the audio items, and the paper's prose ("the
pairing process began with items that exhibit the highest similarity")
fixes it: the next audio is the one whose best available image is the most
similar. So the global greedy is Eq. 4 with that order. A literal loop in id
order (:func:`literal_per_audio`) gives a different, id-dependent result and
is only kept as the benchmark's baseline.

The fast algorithm (no full similarity matrix)
----------------------------------------------
1. **Candidate lists.** One blocked float32 pass finds, per audio, its ``K``
   best images (plus any within float error of the K-th) and a certified
   ``bound``: every image not in the list is strictly less similar
   (:func:`~synesthesia.stages.similarity.candidate_lists`). Lists are
   ordered by float32 similarity; exact similarities are computed lazily,
   only for the entries within ``2·err`` of an audio's best free candidate
   (usually one), which is the only place float32 can misorder them.
2. **Heap of audio heads.** Each unpaired audio has one heap entry: its best
   still-available candidate if that candidate is ``>= bound`` (then it *is*
   the audio's best available image), else a *bound entry* (its best
   available image is unknown but ``< bound``). Keys are ``(−sim, audio,
   image)``; a bound entry uses image ``−1`` so it never sorts after a real
   pair it might hide.
3. **Pop.** A real entry on top whose image is free is the global maximum of
   all remaining pairs: every other audio's remaining pairs sort at or after
   its own entry. Take it. A real entry whose image was taken meanwhile is
   advanced along the audio's list. A bound entry on top means that audio
   must be **refilled**: its list is recomputed over the images still free
   (in batches with the other exhausted audios of highest bound, one GEMM
   each), which always yields at least one certified pair, so the loop
   makes progress.

Exactness therefore does not depend on ``K``; ``K`` only trades first-pass
selection work against refills. Images only ever leave the free set, so a
list and its bound stay valid until the audio is paired.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import numpy as np

from synesthesia.stages import similarity as sim

#: The paper's pairing instance (Art2Mus, section 3.3): N = 105,884 audio
#: items (FMA-Large tracks kept), 116,475 ArtGraph artworks, ImageBind-Huge's
#: 1,024-d embeddings. The benchmark's ``--full`` scale.
PAPER_AUDIO = 105_884
PAPER_ARTWORKS = 116_475
PAPER_EMBEDDING_DIM = 1_024

#: Candidate images kept per audio by the first pass.
DEFAULT_CANDIDATES = 32
#: Exhausted audios refilled together (one matrix product over the free images).
DEFAULT_REFILL_BATCH = 1024
#: A refill reads every free image once whatever its batch, so up to this many
#: rows ride along at little extra cost: the audios closest to running out.
DEFAULT_REFILL_MIN = 64


@dataclass(frozen=True)
class GreedyConfig:
    candidates: int = DEFAULT_CANDIDATES
    row_block: int = sim.DEFAULT_ROW_BLOCK
    col_block: int = sim.DEFAULT_COL_BLOCK
    refill_batch: int = DEFAULT_REFILL_BATCH
    refill_min: int = DEFAULT_REFILL_MIN
    #: An audio whose best available image is less similar than this stays
    #: unpaired (``None``: off, as in the paper, every audio is paired while
    #: images remain).
    min_similarity: float | None = None

    def __post_init__(self):
        if min(self.candidates, self.row_block, self.col_block, self.refill_batch) < 1 or self.refill_min < 0:
            raise ValueError("candidates, row_block, col_block and refill_batch must be >= 1, refill_min >= 0")


@dataclass
class Matching:
    """A pairing of audio rows with image columns.

    ``image[a]`` is the image index paired with audio ``a`` (``-1``: unpaired),
    ``similarity[a]`` its exact similarity (NaN when unpaired), ``rank[a]`` the
    step at which it was chosen (0 = first; ``-1`` unpaired)."""

    image: np.ndarray
    similarity: np.ndarray
    rank: np.ndarray
    stats: dict = field(default_factory=dict)

    @property
    def paired(self) -> np.ndarray:
        return np.flatnonzero(self.image >= 0)

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(audio_rows, image_cols, similarity)`` of the pairs, in the order chosen."""
        a = self.paired
        a = a[np.argsort(self.rank[a], kind="stable")]
        return a, self.image[a], self.similarity[a]


def _empty_matching(n: int) -> Matching:
    return Matching(np.full(n, -1, np.int64), np.full(n, np.nan), np.full(n, -1, np.int64))


def greedy_match(audio: np.ndarray, images: np.ndarray, config: GreedyConfig = GreedyConfig(), device: str | None = None) -> Matching:
    """The exact global greedy matching of ``audio`` rows to ``images`` rows
    (ties: lower audio row, then lower image row). See the module docstring.

    ``device`` (``cuda``, ``cpu``, ...): run the similarity passes and refills
    on that torch device (:mod:`~synesthesia.stages.device_similarity`);
    ``None``: numpy. The pairs are the same either way: the device only
    screens, the host decides."""
    A = sim.as_matrix(audio, "audio embeddings")
    X = sim.as_matrix(images, "image embeddings")
    if A.shape[1] != X.shape[1] and len(A) and len(X):
        raise ValueError(f"dimension mismatch: audio {A.shape[1]} vs images {X.shape[1]}")
    n, m = len(A), len(X)
    result = _empty_matching(n)
    stats = {"audio": n, "images": m, "refills": 0, "refilled_audio": 0, "refill_pairs": 0, "advances": 0, "rescored": 0}
    result.stats = stats
    if n == 0 or m == 0:
        return result
    started = time.perf_counter()
    err = sim.similarity_error_bound(A, X)
    K = config.candidates
    on_device = None
    if device is not None:
        from synesthesia.stages.device_similarity import DeviceItems

        on_device = DeviceItems(X, device)
        stats["device"] = str(on_device.device)

    # Per-audio candidate list (views): columns, float32 similarities, exact
    # similarities (NaN until needed); pointer, certified bound, version.
    lst_cols: list = [None] * n
    lst_s32: list = [None] * n
    lst_exact: list = [None] * n
    bound = np.empty(n, dtype=np.float64)

    def store(rows, indptr, cols, s32, bnd) -> None:
        exact = np.full(len(cols), np.nan)
        bound[rows] = bnd
        for j, a in enumerate(rows.tolist()):
            lo, hi = indptr[j], indptr[j + 1]
            lst_cols[a] = cols[lo:hi].tolist()
            lst_s32[a] = s32[lo:hi].tolist()
            lst_exact[a] = exact[lo:hi]

    for r0 in range(0, n, config.row_block):
        r1 = min(r0 + config.row_block, n)
        store(np.arange(r0, r1), *sim.candidate_lists(A[r0:r1], X, K, None, config.col_block, err, on_device))
    stats["first_pass_s"] = round(time.perf_counter() - started, 3)
    window = 2 * err

    used_buf = bytearray(m)
    used = np.frombuffer(used_buf, dtype=np.bool_)
    ptr = [0] * n
    version = [0] * n
    waiting = np.zeros(n, dtype=bool)  # holds a bound entry (list exhausted)
    remaining = np.zeros(n, dtype=np.int64)  # list entries past the pointer (free or not)
    min_sim = config.min_similarity

    def head(a: int):
        """The heap entry for audio ``a``: its best free candidate if that is
        certified (>= bound), else a bound entry."""
        cols, s32, exact, p = lst_cols[a], lst_s32[a], lst_exact[a], ptr[a]
        end = len(cols)
        while p < end and used_buf[cols[p]]:
            p += 1
        stats["advances"] += p - ptr[a]
        ptr[a] = p
        remaining[a] = end - p
        if p < end:
            # Only free entries within 2·err (float32) of the first free one
            # can be the exact best; rescore those that are not yet.
            group = [p]
            q = p + 1
            while q < end and s32[q] >= s32[p] - window:
                if not used_buf[cols[q]]:
                    group.append(q)
                q += 1
            for q in group:
                if exact[q] != exact[q]:  # NaN: not computed yet
                    exact[q] = sim.exact_similarity(A, X, a, cols[q])
                    stats["rescored"] += 1
            best = min(group, key=lambda q: (-exact[q], cols[q]))
            if exact[best] >= bound[a]:
                waiting[a] = False
                return (-float(exact[best]), a, cols[best], version[a])
        waiting[a] = True
        return (-float(bound[a]), a, -1, version[a])

    heap = [head(a) for a in range(n)]
    heapq.heapify(heap)
    n_free = m
    rank = 0
    image_of, sim_of, rank_of = result.image, result.similarity, result.rank

    def refill(first: int) -> None:
        cands = np.flatnonzero(waiting & (image_of < 0))
        if len(cands) > config.refill_batch:
            pick = np.argpartition(-bound[cands], config.refill_batch - 1)[: config.refill_batch]
            cands = cands[pick]
        elif len(cands) < config.refill_min:
            # Top up with the unpaired audios closest to running out.
            others = np.flatnonzero(~waiting & (image_of < 0))
            extra = min(config.refill_min - len(cands), len(others))
            if extra:
                cands = np.concatenate([cands, others[np.argpartition(remaining[others], extra - 1)[:extra]]])
        batch = np.union1d(cands, [first])
        free = np.flatnonzero(~used)
        store(batch, *sim.candidate_lists(A[batch], X, K, free, config.col_block, err, on_device))
        stats["refills"] += 1
        stats["refilled_audio"] += len(batch)
        stats["refill_pairs"] += len(batch) * len(free)
        for a in batch.tolist():
            ptr[a] = 0
            version[a] += 1
            heapq.heappush(heap, head(a))

    while heap and n_free > 0:
        negs, a, c, ver = heap[0]
        if ver != version[a]:
            heapq.heappop(heap)
            continue
        if c >= 0 and used_buf[c]:
            heapq.heapreplace(heap, head(a))
            continue
        if min_sim is not None and -negs < min_sim:
            break  # every remaining pair is below the threshold
        if c < 0:
            if negs == np.inf:  # complete list, exhausted: nothing left for a
                heapq.heappop(heap)
                continue
            refill(a)
            continue
        heapq.heappop(heap)
        used_buf[c] = 1
        n_free -= 1
        image_of[a] = c
        sim_of[a] = -negs
        rank_of[a] = rank
        rank += 1
    stats["paired"] = rank
    stats["seconds"] = round(time.perf_counter() - started, 3)
    return result


# --- references ------------------------------------------------------------------

def greedy_on_edges(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, n: int, m: int, min_similarity: float | None = None) -> Matching:
    """Global greedy over an explicit edge list: sort every edge by
    (−similarity, row, column) and take an edge when both ends are free.

    With every pair as an edge this is the brute-force definition of
    :func:`greedy_match`; with a k-NN candidate graph it is the greedy
    baseline of :mod:`synesthesia.stages.optimal_pairing`."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    sims = np.asarray(sims, dtype=np.float64)
    result = _empty_matching(n)
    order = np.lexsort((cols, rows, -sims))
    row_used = bytearray(n)
    col_used = bytearray(m)
    left = min(n, m)
    rank = 0
    r_list, c_list, s_list = rows[order].tolist(), cols[order].tolist(), sims[order].tolist()
    for r, c, s in zip(r_list, c_list, s_list):
        if min_similarity is not None and s < min_similarity:
            break
        if row_used[r] or col_used[c]:
            continue
        row_used[r] = col_used[c] = 1
        result.image[r] = c
        result.similarity[r] = s
        result.rank[r] = rank
        rank += 1
        if rank == left:
            break
    result.stats = {"audio": n, "images": m, "paired": rank}
    return result


def greedy_reference(audio: np.ndarray, images: np.ndarray, min_similarity: float | None = None) -> Matching:
    """Brute force: the full exact similarity matrix, sorted once (small inputs only)."""
    A = sim.as_matrix(audio, "audio embeddings")
    X = sim.as_matrix(images, "image embeddings")
    S = sim.exact_similarity_matrix(A, X)
    n, m = S.shape
    rows = np.repeat(np.arange(n), m)
    cols = np.tile(np.arange(m), n)
    return greedy_on_edges(rows, cols, S.ravel(), n, m, min_similarity)


def literal_per_audio(audio: np.ndarray, images: np.ndarray, limit: int | None = None) -> Matching:
    """Eq. 4 read literally: audio rows in index order, each takes the most
    similar still-available image (a float32 matrix–vector product over all
    images, taken ones masked). The benchmark's baseline; ``limit`` stops
    after that many audio rows (for timing a sample)."""
    A = sim.as_matrix(audio, "audio embeddings")
    X = sim.as_matrix(images, "image embeddings")
    n, m = len(A), len(X)
    result = _empty_matching(n)
    used = np.zeros(m, dtype=bool)
    stop = n if limit is None else min(n, limit)
    for a in range(min(stop, m)):
        s = X @ A[a]
        s[used] = -np.inf
        c = int(np.argmax(s))
        used[c] = True
        result.image[a] = c
        result.similarity[a] = float(s[c])
        result.rank[a] = a
    return result
