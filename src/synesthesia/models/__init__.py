"""Models trained on the datasets (MPJudge, Art2Mus, Musipainter) and shared metrics."""
