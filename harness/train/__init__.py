"""Training: objective (v-prediction, zero terminal SNR), APDH schedule, HPA mixing, PhD loss,
trainer and sampler (echomimicv2.md, "Objective and sampling", "APDH", "HPA", "PhD loss")."""
