"""What a pipeline step imports: stores by URL (embedded or gRPC), the run/step logging API, the journal."""

from __future__ import annotations

from mlineage.client.tracking import ArtifactRef, Run, Step, StepSpec, current_run, current_step, start_run

__all__ = ["ArtifactRef", "Run", "Step", "StepSpec", "current_run", "current_step", "start_run"]
