"""Adapters over the Store: gRPC (MLMD's service) and REST. Thin: decode, call, encode, map errors."""
