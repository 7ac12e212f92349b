"""What the operators run the service with: metrics, structured logs, health checks."""
