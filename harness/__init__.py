"""EchoMimicV2 ablation harness: config -> data -> model -> train -> evaluate -> sweep/tune -> track."""

__version__ = "0.1.0"
