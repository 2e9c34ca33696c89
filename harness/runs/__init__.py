"""The run record: what a sweep, a tuning study and each trial write to MLflow, and where.

``schema``  every tag, param, metric and artifact name (the one place each name lives)
``store``   where the record goes: tracking URI, experiment, artifact location, server check
``record``  what a trial logs besides its metrics: resolved config, switches, APDH schedule in steps
``tracker`` the writer (MlflowClient with explicit run ids); readers live in ``reports.query``
"""
