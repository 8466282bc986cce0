"""MPJudge: the music-conditioned painting judge of the MPD paper.

* ``model``: the network (MPJudgeConfig, MPJudge, MAN, modulation maps, sizes)
* ``losses``: Eq. 5–7 (regression, DPO, total)
* ``config``: TrainConfig, RunConfig, presets (``configs/*.yaml``)
* ``train``: the trainer (CPU / GPU / DDP, checkpoints, resume, metrics)
* ``evaluate``: SRCC, PLCC, MAE, ACC, results tables
* ``judge``: score any painting + music file, modulation-map overlays
* ``checkpoint``: run folders and checkpoint files
"""

from synesthesia.models.mpjudge.config import RunConfig, TrainConfig, load_config
from synesthesia.models.mpjudge.model import FUSIONS, MPJudge, MPJudgeConfig, count_flops, count_parameters

__all__ = ["FUSIONS", "MPJudge", "MPJudgeConfig", "RunConfig", "TrainConfig", "count_flops", "count_parameters", "load_config"]
