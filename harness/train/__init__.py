"""Training: objective (v-prediction, zero terminal SNR), APDH schedule, HPA mixing, PhD loss,
trainer and sampler (docs/method.md, "Objective and sampling", "APDH", "HPA", "PhD loss")."""
