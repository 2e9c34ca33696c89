"""Ablation tables and plots generated from MLflow (outputs go to reports/out/, never committed)."""
