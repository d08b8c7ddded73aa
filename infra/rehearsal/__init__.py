"""``make rehearse``: the documented deployment of a two-region production, against moto_server on 127.0.0.1.

There is no Pulumi CLI, engine or provider plugin on these machines, so the rehearsal brings the two parts the
CLI would: a small deployment engine (``engine``: the program under Pulumi's own runtime, each registration diffed
against the stack's state in a file backend, then created, updated, replaced or deleted) and a provider that
makes the AWS calls (``moto_provider``, pointed at moto_server). Everything else is the real path: the project's
``__main__.py`` (so the Lambda package is built by ``chalice package`` exactly as ``pulumi up`` builds it), the
documented stack configs, two stacks sharing a backend (the second reads the home stack's outputs through its
StackReference), two working directories made from the repository's files. See ``__main__`` for the run.
"""
