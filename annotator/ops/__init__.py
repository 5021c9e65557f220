"""Operations: health and readiness probes, Prometheus metrics, request logs, worker presence."""
