"""Persistence: DynamoDB adapters and in-memory fakes. Key formats live in ``schema``; see docs/DESIGN.md."""
