"""Generated protobuf and gRPC modules of the corral.v1 API (scripts/gen/python.sh); never edited."""
