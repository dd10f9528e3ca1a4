"""gRPC: MLMD's MetadataStoreService, health checking and reflection."""
