"""sesame runtime: domain logic shared by the Chalice app, the local stack and the tools.

Nothing in this package imports Chalice or Pulumi, reads the environment at import time, or builds clients at
module level. Adapters receive their boto3 clients from the composition root (``chalicelib.wiring``).
"""
