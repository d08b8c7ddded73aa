"""The sending half of sesame: send-request models, campaign launch, the queue consumer, pacing and failover.

Modules (one job each): ``ses_models`` (SESv2 request shapes), ``jobs`` (queue envelopes and send units),
``tags`` / ``headers`` (what every send carries), ``campaign`` (Campaign Candidate JSON -> jobs), ``templates``
(SES templates from inline HTML or S3), ``enqueue`` (SendMessageBatch), ``pacing`` (rate, daily quota, warm-up),
``errors`` (SES error classification), ``ledger`` (idempotency and message records), ``consumer`` (the SQS batch
handler), ``service`` (campaign lifecycle), ``cli`` (``sesame campaign ...``).
"""
