import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from synesthesia.datasets import schema as S
from synesthesia.datasets.media import ClipConfig, MelConfig, clip_starts, load_audio, log_mel, resampled_length
from synesthesia.stages.audio import mel_shard, plan_clips, read_mels


def test_mel_of_a_15s_clip_is_128_by_469_mel_first():
    rng = np.random.default_rng(0)
    clip = rng.standard_normal(15 * 16_000).astype(np.float32) * 0.1
    mel = log_mel(clip[None])
    assert mel.shape == (1, 128, 469)


def test_log_mel_equals_librosa():
    import librosa

    rng = np.random.default_rng(1)
    y = (rng.standard_normal(15 * 16_000) * 0.2).astype(np.float32)
    ours = log_mel(y[None])[0]
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=16_000, n_fft=1024, hop_length=512, n_mels=128),
        ref=1.0, amin=1e-10, top_db=None,
    )
    assert ref.shape == (128, 469)
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_a_pure_tone_lands_in_the_right_mel_band():
    import librosa

    t = np.arange(15 * 16_000) / 16_000
    mel = log_mel(np.sin(2 * np.pi * 1000 * t).astype(np.float32)[None])[0]
    centres = librosa.mel_frequencies(n_mels=130, fmax=8000)[1:-1]
    assert abs(centres[mel.mean(axis=1).argmax()] - 1000) < 60


@pytest.mark.parametrize("seconds,expected", [(14.9, 0), (15.0, 1), (44.0, 2), (45.0, 3)])
def test_clip_counts(seconds, expected):
    sr = 44_100
    n16 = resampled_length(int(round(seconds * sr)), sr)
    assert len(clip_starts(n16, ClipConfig())) == expected


def test_clip_plan_and_mels_from_real_files(tmp_path):
    sr = 22_050
    rows = []
    for k, seconds in enumerate([14.9, 15.0, 44.0, 45.0]):
        y = np.sin(2 * np.pi * 220 * np.arange(int(seconds * sr)) / sr).astype(np.float32) * 0.3
        path = tmp_path / f"t{k}.wav"
        sf.write(path, np.stack([y, y], 1), sr)  # stereo -> mono
        rows.append({"track_id": f"t{k}", "path": path.name, "sha256": str(k), "n_frames": len(y), "sample_rate": sr, "split": "train"})
    tracks = pa.Table.from_pylist(rows)
    clips = plan_clips(tracks, ClipConfig())
    assert clips.column("track_id").to_pylist() == ["t1", "t2", "t2", "t3", "t3", "t3"]
    assert clips.column("start_s").to_pylist() == [0.0, 0.0, 15.0, 0.0, 15.0, 30.0]
    assert all(e - s == 15.0 for s, e in zip(clips.column("start_s").to_pylist(), clips.column("end_s").to_pylist()))
    from synesthesia.stages.audio import clip_work_items

    table = mel_shard(tmp_path, clip_work_items(tracks, clips))
    assert table.num_rows == 6
    assert S.schema_meta(table.schema)["shape"] == [128, 469]
    assert table.schema.field("mel").type == pa.list_(pa.float16(), 128 * 469)
    out = tmp_path / "mels"
    from synesthesia.datasets import io as dio

    dio.write_table(table, out / "part-00000-x.parquet")
    ids, mels = read_mels(out)
    assert ids == clips.column("clip_id").to_pylist()
    assert mels.shape == (6, 128, 469)
    # the stored float16 mel is the log-mel of the resampled mono clip
    y16 = load_audio(tmp_path / "t3.wav")
    expected = log_mel(y16[15 * 16_000 : 30 * 16_000][None])[0]
    np.testing.assert_allclose(mels[4], expected, atol=0.05)


def test_mel_config_defaults_are_the_papers():
    cfg = MelConfig()
    assert (cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels) == (16_000, 1024, 512, 128)
    assert ClipConfig().clip_seconds == 15.0
    assert cfg.n_frames(ClipConfig().clip_samples) == 469
