"""Read side of the tracking data: campaign stats, message history, recipient access/erasure, pagination tokens.

Pure logic (``stats``, ``pagination``, ``service``) plus a DynamoDB reader and an in-memory fake (``reader``).
"""
