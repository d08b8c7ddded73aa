"""The sesame Pulumi program: typed stack config, one ComponentResource per concern (the app's deployment included),
CrossGuard checks and the deployment rehearsal. ``infra.program.build`` is the program body; ``__main__.py`` only
wires it."""
