"""Checks on generated ``kit_model.py`` source shared by the emitter and fuzz tests."""
import ast


def assert_plain_identifiers(source: str) -> None:
    """Every identifier in the code (imports aside) is ASCII letters, digits and underscores."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.alias)):
            continue
        for identifier in (getattr(node, attr, None) for attr in ("id", "attr", "name", "arg")):
            if isinstance(identifier, str):
                assert identifier.isascii() and identifier.replace("_", "a").isalnum(), identifier
