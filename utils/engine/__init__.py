"""The recommendation engine's internals (import them through `utils.recommendations`, its front).

Holds the data model (data), the parts (base, algorithms, factors), the blend (hybrid), self-tuning (tuning,
autotune), group lists (group), small maths helpers (numerics) and offline evaluation (evaluation).
May import numpy, scipy, threadpoolctl and `implicit` only: no Discord, Spotify, database or other utils module.
"""
