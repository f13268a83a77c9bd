"""The local model zoo: realistic MXNet checkpoints built offline (no weights can be downloaded).

``common`` holds what every family builds with; ``resnet``, ``vision``, ``video``, ``faces``, ``detection`` and
``sequence`` are the families; ``cli`` (``python -m mxconvert.zoo``) builds them. Importing the package loads nothing: MXNet
comes with ``common``, and ``sequence`` imports it only to build (the benchmarks import it beside other runtimes).
"""
