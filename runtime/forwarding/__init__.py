"""Forwarding of normalised tracking events to the user's own HTTP API: signing, delivery with retries, the
SQS-batched path, the immediate path for bounces/complaints/unsubscribes, and parking in the forward DLQ."""
