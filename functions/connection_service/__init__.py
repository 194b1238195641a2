"""as-connection-service: the real-time layer of NeverMissCall on API Gateway WebSocket + Lambda + Redis."""
