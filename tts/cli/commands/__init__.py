"""One module per ``ganspeech`` subcommand; each defines ``register(subparsers)``.

``register`` adds its parser and ``set_defaults(func=run)``; ``run(args) -> int`` calls library code.
"""
