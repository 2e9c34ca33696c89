"""Names for people: metric display names, directions and precision; variant labels (paper rows).

Directions follow the paper's tables (docs/paper_numbers.md; the paper's tables): FID, FVD and Sync-D are
lower-is-better, every other metric higher-is-better (harness/vocabulary.py, DIRECTIONS). The metric keys
are the ones ``metrics.evaluate`` returns (harness/vocabulary.py, RESULT_ORDER); an unknown key still gets a row, shown with
its key, no arrow, and 4 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.vocabulary import DIRECTIONS, RESULT_ORDER, Direction


@dataclass(frozen=True)
class MetricInfo:
    """How one metric is shown: name, which way is better (None = unknown), decimals."""

    key: str
    name: str
    direction: Direction | None
    decimals: int

    @property
    def arrow(self) -> str:
        return {"lower": "↓", "higher": "↑"}.get(self.direction or "", "")

    @property
    def latex_arrow(self) -> str:
        return {"lower": r"$\downarrow$", "higher": r"$\uparrow$"}.get(self.direction or "", "")

    def better(self, a: float, b: float) -> bool:
        """True when a is strictly better than b."""
        return a < b if self.direction == "lower" else a > b


METRICS: dict[str, MetricInfo] = {m.key: m for m in (
    MetricInfo(key, name, DIRECTIONS[key], decimals) for key, name, decimals in (
        ("fid", "FID", 2), ("fvd", "FVD", 1), ("ssim", "SSIM", 3), ("psnr", "PSNR", 2), ("sync_c", "Sync-C", 3),
        ("sync_d", "Sync-D", 3), ("hkc", "HKC", 3), ("hkv", "HKV", 2), ("csim", "CSIM", 3),
    )
)}

# Column names of docs/paper_numbers.csv -> our metric keys (E-FID has no counterpart here).
PAPER_COLUMNS: dict[str, str] = {"FID": "fid", "FVD": "fvd", "SSIM": "ssim", "Sync-C": "sync_c", "Sync-D": "sync_d",
                                 "HKC": "hkc", "HKV": "hkv", "CSIM": "csim"}

# Variant names used in experiments/*.yaml -> (plain label, LaTeX label). The plain labels are
# the paper's row names, so paper reference rows can be matched to our variants.
VARIANT_LABELS: dict[str, tuple[str, str]] = {
    "full": ("Full model", "Full model"),
    "wo_apdh": ("w/o APDH", "w/o APDH"),
    "wo_hpa": ("w/o HPA", "w/o HPA"),
    "wo_l_pose": ("w/o L_pose", r"w/o $\mathcal{L}_{pose}$"),
    "wo_l_detail": ("w/o L_detail", r"w/o $\mathcal{L}_{detail}$"),
    "wo_l_low": ("w/o L_low", r"w/o $\mathcal{L}_{low}$"),
    "wo_initial_pose": ("w/o Initial Pose", "w/o Initial Pose"),
    "wo_audio_lips": ("w/o Audio-Lips Sync", "w/o Audio-Lips Sync"),
    "wo_audio_face": ("w/o Audio-Face Sync", "w/o Audio-Face Sync"),
    "wo_audio_body": ("w/o Audio-Body Corr", "w/o Audio-Body Corr"),
    "release": ("EchoMimicV2 release", "EchoMimicV2 release"),  # experiments/release_eval.yaml
}


def metric_info(key: str) -> MetricInfo:
    """The display record of a metric key (unknown keys: their own name, no direction)."""
    return METRICS.get(key) or MetricInfo(key, key, None, 4)


def metric_order(keys: set[str] | list[str]) -> list[str]:
    """Keys in the order of metrics.evaluate's results, unknown keys after them alphabetically."""
    known = [k for k in RESULT_ORDER if k in keys]
    return known + sorted(k for k in keys if k not in RESULT_ORDER)


def variant_label(variant: str, latex: bool = False) -> str:
    """The paper's row name of a variant where known, else the variant name itself."""
    if variant in VARIANT_LABELS:
        return VARIANT_LABELS[variant][1 if latex else 0]
    return latex_escape(variant) if latex else variant


def latex_label(text: str) -> str:
    """The LaTeX form of a plain row label (a paper row's method name): known labels, else escaped."""
    for plain, tex in VARIANT_LABELS.values():
        if plain == text:
            return tex
    return latex_escape(text)


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
             "±": r"$\pm$", "−": r"$-$", "–": "--", "↓": r"$\downarrow$", "↑": r"$\uparrow$", "†": r"\dag{}",
             "Δ": r"$\Delta$", "<": r"$<$", ">": r"$>$"}
    return "".join(table.get(c, c) for c in text)
