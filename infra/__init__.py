"""The sesame Pulumi program: typed stack config, one ComponentResource per concern, CrossGuard checks and the
Chalice stage writer. ``infra.program.build`` is the program body; ``__main__.py`` only wires it."""
