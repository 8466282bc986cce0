"""synesthesia: music–painting datasets (MPD, ArtSound, Museart) and the models that use them."""

__version__ = "0.1.0"
