"""Checks on generated ``kit_model.py`` source shared by the emitter and fuzz tests."""
import ast
import re


def assert_plain_identifiers(source: str) -> None:
    """Every identifier in the code (imports aside) is ASCII letters, digits and underscores."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.alias)):
            continue
        for identifier in (getattr(node, attr, None) for attr in ("id", "attr", "name", "arg")):
            if isinstance(identifier, str):
                assert identifier.isascii() and identifier.replace("_", "a").isalnum(), identifier


RUNNING = re.compile(r"(x|branch)(_\d+)?")  # the running value, a side branch's running value


def forward_variables(source: str) -> tuple[int, int]:
    """Check the naming rules of ``KitModel.forward``: a variable named for a node holds that node's value only
    (assigned once, by a line with no comment naming another node that calls no layer of another name;
    ``x``/``branch`` name running values), each ``del`` frees variables that the line before it read and did not
    reassign, and no statement that uses one node's layer (``self.NAME``, called or its tensors read) spans several
    lines (the old ``mxnet_batch_norm(x, self.bn.running_mean, ...)`` call took 11). Returns (forward's lines, its
    ``del`` statements)."""
    tree = ast.parse(source)
    forward = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "forward"
                   and any(isinstance(c, ast.ClassDef) and c.name == "KitModel" and node in c.body
                           for c in ast.walk(tree)))
    lines = source.splitlines()
    layers = {target.attr for node in ast.walk(tree) if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Attribute)}
    deletes, named = 0, set()
    for previous, stmt in zip([None, *forward.body], forward.body):
        used = {n.attr for n in ast.walk(stmt) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                and n.value.id == "self" and n.attr in layers}
        assert len(used) != 1 or stmt.end_lineno == stmt.lineno, \
            "a multi-line statement for one layer:\n" + "\n".join(lines[stmt.lineno - 1:stmt.end_lineno])
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
            if not RUNNING.fullmatch(name):
                assert name not in named, f"{name} assigned twice"
                named.add(name)
                assert "#" not in lines[stmt.end_lineno - 1], lines[stmt.lineno - 1]
                called = {n.func.attr for n in ast.walk(stmt.value) if isinstance(n, ast.Call)
                          and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
                          and n.func.value.id == "self" and n.func.attr in layers}
                assert called <= {name}, lines[stmt.lineno - 1]
        if isinstance(stmt, ast.Delete):
            deletes += 1
            read = {n.id for n in ast.walk(previous.value) if isinstance(n, ast.Name)}
            assigned = {n.id for t in previous.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            for target in stmt.targets:
                assert target.id in read - assigned, f"del {target.id} after: {lines[previous.lineno - 1]}"
    return forward.end_lineno - forward.lineno + 1, deletes
